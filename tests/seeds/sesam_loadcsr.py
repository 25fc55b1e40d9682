# se.SAM N200 PKI tutorial (seed 000_8e66a1692a6e993f), section (3): "The first option to
# submit an RFC 2986 CSR is possible by REST API command 'loadcsr'. The REST API command
# requires two parameters: 'template' [...] and 'csr_dump', the base64 encoded RFC 2986 CSR."
# The page shows no script for it; this one is written the way its pseudo-CSR script is (the
# key and CSR made with python3-cryptography, whose x509 imports that script has commented
# out).  URL and credentials come from SESAM_URL, SESAM_USER and SESAM_PASSWORD.
import os, base64
import requests
# disable curl TLS warnings - NOT  recommended for production!
import urllib3
import json

from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

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

# Generate a CSR (RFC 2986) signed with our key
csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
    x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "My Organisation"),
    x509.NameAttribute(NameOID.COMMON_NAME, "iot-device-0815"),
])).add_extension(
    x509.SubjectAlternativeName([x509.DNSName("iot-device-0815.domain.com")]),
    critical=False,
).sign(key, hashes.SHA256())

# Request the certificate using loadcsr command
url = os.environ['SESAM_URL']
headers = { 'Authorization': 'Basic ' + base64.b64encode((os.environ['SESAM_USER'] + ':' + os.environ['SESAM_PASSWORD']).encode()).decode() } # Base64 admin:admin

payload = {'command': "loadcsr", 'template': "IoT-Template-2022",
           'csr_dump': base64.b64encode(csr.public_bytes(serialization.Encoding.DER))}
response = requests.request("POST", url, headers=headers, data=payload, verify=False)
jsonresult = json.loads(response.text)
if response.status_code != 200 or jsonresult["result"] == "ST_FF":
    print("REST API HTTP or Value Error")

if response.status_code == 200:
    print(response.text)
