"""Writes a real, working RSA-2048 private key (PEM, PKCS#1) that is weak on purpose, so that
openssl can sign a CSR with it.  Standard library only.

  weakkey.py fermat OUT   p and q = the next prime after p: Fermat's method factors n at once
  weakkey.py roca OUT     p, q = k*M + (65537^a mod M), M the product of the first 126 primes
                          (how Infineon RSALib made 2048-bit keys; Nemec et al., CCS 2017)
"""
import base64
import random
import sys

SMALL = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p ** 0.5) + 1))]


def is_prime(n, rnd):
    if n < 2:
        return False
    for p in SMALL:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(32):
        x = pow(rnd.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def next_prime(n, rnd):
    n |= 1
    while not is_prime(n, rnd):
        n += 2
    return n


def top_bits(rnd, bits):
    return rnd.getrandbits(bits) | (3 << (bits - 2))


def roca_prime(rnd, m, bits):
    g = 65537
    while True:
        k = rnd.getrandbits(bits - m.bit_length()) | (1 << (bits - m.bit_length() - 1))
        p = k * m + pow(g, rnd.getrandbits(64), m)
        if p.bit_length() == bits and (p >> (bits - 2)) == 3 and is_prime(p, rnd):
            return p


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(b)]) + b


def der_int(x):
    b = x.to_bytes(x.bit_length() // 8 + 1, 'big')
    return b'\x02' + der_len(len(b)) + b


def main(argv):
    kind, out = argv[1], argv[2]
    rnd = random.Random('certgate weak key ' + kind)
    e = 65537
    while True:
        if kind == 'fermat':
            p = next_prime(top_bits(rnd, 1024), rnd)
            q = next_prime(p + 2, rnd)
        elif kind == 'roca':
            m = 1
            q = 2
            for _ in range(126):
                m *= q
                q = next_prime(q + 1, rnd)
            p = roca_prime(rnd, m, 1024)
            q = roca_prime(rnd, m, 1024)
        else:
            return 2
        phi = (p - 1) * (q - 1)
        if p != q and (p * q).bit_length() == 2048 and phi % e != 0:
            break
    n = p * q
    d = pow(e, -1, phi)
    body = b''.join(der_int(x) for x in
                    (0, n, e, d, p, q, d % (p - 1), d % (q - 1), pow(q, -1, p)))
    der = b'\x30' + der_len(len(body)) + body
    b64 = base64.b64encode(der).decode()
    with open(out, 'w') as f:
        f.write('-----BEGIN RSA PRIVATE KEY-----\n')
        for i in range(0, len(b64), 64):
            f.write(b64[i:i + 64] + '\n')
        f.write('-----END RSA PRIVATE KEY-----\n')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
