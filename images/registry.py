"""`unc pull`: an image from a registry, through the registry HTTP API v2.

Used by images/cli.py, in the store's user namespace (images/userns.py);
what it fetches goes through images/sources.py's install(), which checks
every layer's digest as it streams (nothing is held in memory whole but
manifests and configs, which are small and limited here).

The protocol (distribution-spec):
  - GET /v2/NAME/manifests/REF with an Accept header for OCI and Docker
    schema 2 manifests and indexes; an index (manifest list) names one
    manifest per platform, chosen for this host (--platform to choose
    another), then fetched by its digest. Every manifest is checked
    against the digest it was asked by, the config against the manifest's.
  - GET /v2/NAME/blobs/DIGEST for the config and each layer; registries
    often answer with a redirect to a storage server, which gets no
    credentials.
  - A 401 carries `WWW-Authenticate: Bearer realm=...,service=...,scope=...`:
    a token comes from the realm (with the user's credentials where there
    are some: $XDG_RUNTIME_DIR/containers/auth.json, as Podman keeps them,
    else ~/.docker/config.json), and the request is made again with it.
    `Basic realm=...` takes the credentials themselves.
  - https, with the system's certificates; --tls-verify=false accepts any
    certificate and falls back to plain http, for a registry on the
    machine itself (127.0.0.1:5000).
"""

import base64
import json
import os

from core import Fail, one_line

MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json")
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
ACCEPT = ", ".join(MANIFEST_TYPES + INDEX_TYPES)
DOCKER_HUB = "registry-1.docker.io"
LIMIT = 16 << 20               # manifests and configs: small JSON documents
TIMEOUT = 60


class Ref:
    def __init__(self, registry, repository, tag=None, digest=None, text=""):
        self.registry, self.repository = registry, repository
        self.tag, self.digest, self.text = tag, digest, text

    @property
    def reference(self):
        return self.digest or self.tag

    def name(self):
        return self.text if (self.tag or self.digest) else self.text + ":latest"


def parse_ref(text):
    """[REGISTRY/]PATH[:TAG][@DIGEST], as Docker and Podman read it."""
    if not text or any(c.isspace() for c in text) or text != text.strip("/"):
        raise Fail(f"invalid image reference {one_line(text)!r}")
    rest, digest = (text.split("@", 1) + [None])[:2]
    first, slash, path = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry = first
        if registry in ("docker.io", "index.docker.io"):
            registry = DOCKER_HUB             # Docker Hub's API host
            if "/" not in path:
                path = "library/" + path
    else:
        registry, path = DOCKER_HUB, rest
        if "/" not in path.split(":")[0]:
            path = "library/" + path
    tag = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
    if not digest and not tag:
        tag = "latest"
    if not path or any(not part for part in path.split("/")):
        raise Fail(f"invalid image reference {one_line(text)!r}")
    if digest:
        from images.store import hex_of
        hex_of(digest)
    return Ref(registry, path.lower() if path != path.lower() else path, tag, digest, text)


def credentials(registry):
    """(user, password) for `registry` from the files Podman and Docker
    keep, or None."""
    paths = []
    if os.environ.get("XDG_RUNTIME_DIR"):
        paths.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "containers", "auth.json"))
    if os.environ.get("REGISTRY_AUTH_FILE"):
        paths.insert(0, os.environ["REGISTRY_AUTH_FILE"])
    paths.append(os.path.expanduser("~/.docker/config.json"))
    keys = [registry] + (["docker.io", "https://index.docker.io/v1/"]
                         if registry == DOCKER_HUB else [])
    for path in paths:
        try:
            with open(path) as f:
                auths = json.load(f).get("auths") or {}
        except (OSError, ValueError, AttributeError):
            continue
        for key in keys:
            entry = auths.get(key) or auths.get("https://" + key)
            if entry and entry.get("auth"):
                try:
                    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
                except (ValueError, UnicodeError):
                    continue
                return user, password
    return None


class Client:
    """Requests to one registry, with the scheme and authentication it
    turned out to need."""

    def __init__(self, ref, tls_verify=True, trace=None):
        self.ref = ref
        self.tls_verify = tls_verify
        self.trace = trace or (lambda message: None)
        self.scheme = "https"
        self.auth = None                  # the Authorization header, once known
        self.creds = credentials(ref.registry)
        self.tried_auth = False

    # ------------------------------------------------------------ http

    def connect(self, scheme, host):
        import http.client
        if scheme == "http":
            return http.client.HTTPConnection(host, timeout=TIMEOUT)
        import ssl
        context = ssl.create_default_context()
        if not self.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(host, timeout=TIMEOUT, context=context)

    def request(self, path, accept=None, url=None, redirects=5):
        """The response to GET `path` of the registry (or the absolute
        `url`), authenticated; raises Fail with the registry's words."""
        from urllib.parse import urlsplit
        if url is None:
            scheme, host, target = self.scheme, self.ref.registry, path
        else:
            parts = urlsplit(url)
            scheme, host = parts.scheme, parts.netloc
            target = parts.path + ("?" + parts.query if parts.query else "")
        headers = {"User-Agent": "unc", "Accept": accept or "*/*"}
        if self.auth and host == self.ref.registry:
            headers["Authorization"] = self.auth
        self.trace(f"GET {scheme}://{host}{target}")
        try:
            conn = self.connect(scheme, host)
            conn.request("GET", target, headers=headers)
            response = conn.getresponse()
        except OSError as e:
            if url is None and scheme == "https" and not self.tls_verify:
                # --tls-verify=false: a registry without TLS, as Podman tries.
                self.trace(f"https failed ({e}): trying http")
                self.scheme = "http"
                return self.request(path, accept)
            why = getattr(e, "reason", None) or e.strerror or str(e)
            hint = ("; for a registry without TLS or with a certificate of its own, pass "
                    "--tls-verify=false" if scheme == "https" else "")
            raise Fail(f"cannot reach the registry {host}: {why}{hint}") from None
        if response.status in (301, 302, 303, 307, 308) and redirects:
            location = response.getheader("Location") or ""
            response.read()
            from urllib.parse import urljoin
            return self.request(path, accept, url=urljoin(f"{scheme}://{host}{target}",
                                                          location), redirects=redirects - 1)
        if response.status == 401 and not self.tried_auth and url is None:
            challenge = response.getheader("WWW-Authenticate") or ""
            response.read()
            self.tried_auth = True
            self.authenticate(challenge)
            return self.request(path, accept)
        if response.status != 200:
            body = response.read(4096)
            raise Fail(f"{self.ref.text}: the registry answered {response.status} "
                       f"{response.reason} for {target}{self.registry_words(body)}")
        return response

    def registry_words(self, body):
        try:
            errors = json.loads(body).get("errors") or []
            return ": " + "; ".join(one_line(str(e.get("message") or e.get("code")))
                                    for e in errors) if errors else ""
        except (ValueError, AttributeError):
            return ""

    def authenticate(self, challenge):
        scheme, _, params = challenge.partition(" ")
        fields = parse_challenge(params)
        if scheme.lower() == "basic":
            if not self.creds:
                raise Fail(f"{self.ref.text}: the registry wants a user name and password; "
                           "log in with `podman login` or `docker login` (unc reads their "
                           "auth.json or config.json)")
            self.auth = "Basic " + base64.b64encode(":".join(self.creds).encode()).decode()
            return
        if scheme.lower() != "bearer" or "realm" not in fields:
            raise Fail(f"{self.ref.text}: the registry wants an authentication unc does not "
                       f"know: {one_line(challenge) or '(none given)'}")
        from urllib.parse import urlencode
        query = {k: fields[k] for k in ("service", "scope") if k in fields}
        if "scope" not in query:
            query["scope"] = f"repository:{self.ref.repository}:pull"
        url = fields["realm"] + ("&" if "?" in fields["realm"] else "?") + urlencode(query)
        saved, self.auth = self.auth, None
        if self.creds:
            self.auth = "Basic " + base64.b64encode(":".join(self.creds).encode()).decode()
        from urllib.parse import urlsplit
        realm_host = urlsplit(url).netloc
        headers_auth = self.auth
        self.auth = saved
        response = self.token_request(url, realm_host, headers_auth)
        try:
            answer = json.loads(response.read(LIMIT))
            token = answer.get("token") or answer.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not token:
            raise Fail(f"{self.ref.text}: the token server {realm_host} gave no token")
        self.auth = "Bearer " + token

    def token_request(self, url, host, auth):
        from urllib.parse import urlsplit
        parts = urlsplit(url)
        headers = {"User-Agent": "unc"}
        if auth:
            headers["Authorization"] = auth
        self.trace(f"GET {url} (token)")
        try:
            conn = self.connect(parts.scheme, parts.netloc)
            conn.request("GET", parts.path + ("?" + parts.query if parts.query else ""),
                         headers=headers)
            response = conn.getresponse()
        except OSError as e:
            raise Fail(f"cannot reach the token server {host}: {e}") from None
        if response.status != 200:
            raise Fail(f"{self.ref.text}: the token server {host} answered {response.status} "
                       f"{response.reason}" + ("" if self.creds else
                                               "; log in with `podman login` if it needs it"))
        return response

    # ------------------------------------------------------------ documents

    def document(self, kind, reference, accept=None):
        response = self.request(f"/v2/{self.ref.repository}/{kind}/{reference}", accept)
        data = response.read(LIMIT + 1)
        if len(data) > LIMIT:
            raise Fail(f"{self.ref.text}: the {kind[:-1]} {reference} is too large")
        return data, (response.getheader("Content-Type") or "").split(";")[0].strip()

    def blob_stream(self, digest):
        return self.request(f"/v2/{self.ref.repository}/blobs/{digest}")


def parse_challenge(text):
    fields = {}
    import re
    for key, value in re.findall(r'(\w+)="([^"]*)"', text):
        fields[key] = value
    return fields


def fetch(ref, tls_verify=True, wanted=None, progress=None, trace=None):
    """The Image (images/sources.py) of `ref`, its layers streamed on demand."""
    from images import sources
    client = Client(ref, tls_verify, trace)
    what = ref.text
    data, media = client.document("manifests", ref.reference, ACCEPT)
    if ref.digest:
        sources.verified(data, ref.digest, f"{what}: the manifest")
    manifest = sources.load_json(data, f"{what}: the manifest")
    media = manifest.get("mediaType") or media
    if media in INDEX_TYPES or ("manifests" in manifest and "layers" not in manifest):
        descriptor = sources.choose_manifest(manifest, what, wanted)
        digest = descriptor.get("digest")
        data, media = client.document("manifests", digest, ACCEPT)
        sources.verified(data, digest, f"{what}: the manifest {digest}")
        manifest = sources.load_json(data, f"{what}: the manifest")
        media = manifest.get("mediaType") or media
    if manifest.get("schemaVersion") == 1:
        raise Fail(f"{what}: a Docker schema 1 manifest, which unc does not read (push the "
                   "image again with a current tool)")
    config_descriptor = manifest.get("config") or {}
    digest = config_descriptor.get("digest")
    if not isinstance(digest, str):
        raise Fail(f"{what}: the manifest names no config")
    response = client.blob_stream(digest)
    config_bytes = sources.verified(response.read(LIMIT), digest, f"{what}: the config")
    sources.check_platform(sources.load_json(config_bytes, f"{what}: the config"), what, wanted)
    layers = []
    for layer in manifest.get("layers") or []:
        if not isinstance(layer, dict) or not isinstance(layer.get("digest"), str):
            raise Fail(f"{what}: a layer of the manifest has no digest")
        from images.store import hex_of
        hex_of(layer["digest"])
        layers.append(sources.LayerRef((lambda d: lambda: client.blob_stream(d))(layer["digest"]),
                                       digest=layer["digest"], size=layer.get("size"),
                                       what=what))
    return sources.Image(ref.name(), data, config_bytes, layers, what)
