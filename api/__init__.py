"""Concordat's HTTP API: start, act on, read and list agreements as people authenticated by their council's
OpenID provider, each action attested by the API's own signature (see ``api.app``)."""
