# se.SAM N200 PKI tutorial (seed 000_8e66a1692a6e993f), section (3): the pseudo-CSR script,
# rebuilt where the flattened page lost lines.  Changed for certgate's tests: only the URL and
# the credentials, read from SESAM_URL, SESAM_USER and SESAM_PASSWORD (the published script
# has url = '' and admin:admin).
import os, base64
import requests
# disable curl TLS warnings - NOT  recommended for production!
import urllib3
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
#from cryptography import x509
#from cryptography.x509.oid import NameOID

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

# Generate our key
key = rsa.generate_private_key(public_exponent=65537, key_size=2048,)
# Write our key to disk for safe keeping
passphrase = b"passphrase!"
with open("key.pem", "wb") as f:
    f.write(key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.TraditionalOpenSSL,
        encryption_algorithm=serialization.BestAvailableEncryption(passphrase),
    ))

# Extract public key
public_key_pem = key.public_key().public_bytes(
    encoding=serialization.Encoding.PEM,
    format=serialization.PublicFormat.SubjectPublicKeyInfo,
)

# Request the certificate using issuepseudocsr command
url = os.environ['SESAM_URL']
headers = { 'Authorization': 'Basic ' + base64.b64encode((os.environ['SESAM_USER'] + ':' + os.environ['SESAM_PASSWORD']).encode()).decode() } # Base64 admin:admin

count = 1   # simulate generation of multiple certificates by adding value
for i in range(count):
    request_data = {
        'name': "This Cert "+str(i),
        'CN': "My Common Name", 'GN': "My Givenname", 'SN': "My Surname",
        'O': "My Organisation", 'OU': "My Organisational Unit",
        'C': "My City", 'ST': "My State", 'L': "My Location",
        'DNS': "host.domain.com", 'E': "mymail@domain.com",
        #'public_key': public_key_pem.decode('utf-8')
    }
    payload = {'command': "issuepseudocsr", 'template': "Email-Template-2022",
           'request_data': json.dumps(request_data)}
    response = requests.request("POST", url, headers=headers, data=payload, verify=False)
    jsonresult = json.loads(response.text)
    if response.status_code != 200 or jsonresult["result"] == "ST_FF":
        print("REST API HTTP or Value Error in loop #%d" % i)

if response.status_code == 200:
    print(response.text)
