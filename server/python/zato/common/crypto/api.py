# -*- coding: utf-8 -*-
"""`self.crypto`, as upstream's CryptoManager: encrypt and decrypt with the cluster's secret key
(Fernet, through the server), hash and verify secrets (PBKDF2-SHA512 in passlib's format, so
hashes made by upstream verify here and the other way round), and generate keys, secrets and
passwords."""

import base64
import hashlib
import hmac
import os

from zato.server.service.support import native

# passlib's pbkdf2_sha512: `$pbkdf2-sha512$<rounds>$<salt>$<checksum>`, both in its "ab64"
# (base64 with `.` for `+`, no padding).
_SCHEME = 'pbkdf2-sha512'
_ROUNDS = 120_000
_SALT_SIZE = 16


def _ab64_encode(data):
    return base64.b64encode(data).decode('ascii').replace('+', '.').rstrip('=')


def _ab64_decode(text):
    text = text.replace('.', '+')
    return base64.b64decode(text + '=' * (-len(text) % 4))


def _as_bytes(data):
    return data if isinstance(data, bytes) else str(data).encode('utf8')


class CryptoManager:
    """The server's crypto: what `self.crypto` is."""

    def encrypt(self, data, *, needs_str=False):
        """Encrypts `data` (text or bytes) with the cluster's key; bytes unless `needs_str`."""
        text = data.decode('utf8') if isinstance(data, bytes) else str(data)
        out = native().crypto_call('encrypt', text)
        return out if needs_str else out.encode('utf8')

    def decrypt(self, encrypted):
        """The clear text of `encrypted` (a `zato.secf.` prefix is allowed)."""
        text = encrypted.decode('utf8') if isinstance(encrypted, bytes) else str(encrypted)
        return native().crypto_call('decrypt', text)

    def hash_secret(self, data, name='zato.default'):
        """A salted PBKDF2-SHA512 hash of `data`, as passlib writes it."""
        salt = os.urandom(_SALT_SIZE)
        checksum = hashlib.pbkdf2_hmac('sha512', _as_bytes(data), salt, _ROUNDS)
        return '${}${}${}${}'.format(_SCHEME, _ROUNDS, _ab64_encode(salt), _ab64_encode(checksum))

    def verify_hash(self, given, expected, name='zato.default'):
        """Whether `given` is the secret `expected` (from hash_secret or passlib) was made from."""
        try:
            _, scheme, rounds, salt, checksum = str(expected).split('$')
            if scheme != _SCHEME:
                return False
            salt, checksum = _ab64_decode(salt), _ab64_decode(checksum)
            computed = hashlib.pbkdf2_hmac('sha512', _as_bytes(given), salt, int(rounds), len(checksum))
        except (ValueError, TypeError):
            return False
        return hmac.compare_digest(computed, checksum)

    @staticmethod
    def generate_key():
        """A new Fernet key."""
        return base64.urlsafe_b64encode(os.urandom(32))

    @staticmethod
    def generate_secret(bits=256, as_str=False):
        value = base64.urlsafe_b64encode(os.urandom(int(bits / 8)))
        return value.decode('utf8') if as_str else value

    @staticmethod
    def generate_password(bits=192, to_str=False):
        value = CryptoManager.generate_secret(bits)
        return value.decode('utf8') if to_str else value


ServerCryptoManager = CryptoManager

# One is enough: it holds no state of its own.
crypto_manager = CryptoManager()
