# se.SAM N200 PKI tutorial (seed 000_8e66a1692a6e993f), section (4): the gencert script,
# rebuilt where the flattened page lost lines.  Changed for certgate's tests: only the URL and
# the credentials, read from SESAM_URL, SESAM_USER and SESAM_PASSWORD (the published script
# has url = '' and admin:admin).
import os, base64
import requests
# disable curl TLS warnings - NOT  recommended for production!
import urllib3
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

# Request the certificate using gencert command
passphrase = "passphrase!"
url = os.environ['SESAM_URL']
headers = { 'Authorization': 'Basic ' + base64.b64encode((os.environ['SESAM_USER'] + ':' + os.environ['SESAM_PASSWORD']).encode()).decode() } # Base64 admin:admin
payload = {
        'command': "gencert", 'template': "Email-Template-2022",
        'CN': "Arnie S.", 'GN': "Arnie", 'SN': "S.",
        'O': "My Organisation", "OU": "My Organisational Unit",
        'L': "Munich",
        'p12_pass': passphrase
}
response = requests.request("POST", url, headers=headers, data=payload, verify=False)
if response.status_code != 200:
    print("REST API HTTP Error %d" % response.status_code)
else:                     # print response on HTTP status 200
    print(response.text)
