"""The provider side of the bridge: API client, login scheme, OpenPGP.

- ``client.ProviderClient``: the async HTTP client (one per account), and
  ``client.UnlockedAccount`` from ``ProviderClient.unlock``.
- ``errors``: the exception tree every provider failure is raised as.
- ``types``: the provider's JSON objects as dataclasses, and its constants.
- ``srp``: password hashing and the SRP exchange of the login.
- ``pgp``: keyrings, decryption, encryption, signatures, send packages.
- ``build``: the RFC 822 message IMAP serves, built from a decrypted message.
- ``modulus_key``: the key the real provider signs its SRP moduli with.
"""
