"""Pages for people, served by the API process under ``/pages``: sign-in with a council's OpenID provider
(``web.signin``), the session it keeps (``web.session``) and their settings (``web.settings``)."""
