"""Who may read and act on the dashboard: the read policy, login sessions, and the checks
every POST passes.

Reading is open to anyone who can reach the server, or needs the area token, per
`[server] dashboard-reads open|token` (default token). Acting (rerun, kill, remove) always
needs the token. A browser gives it once, in the login form, and then carries a session
cookie: HttpOnly (page scripts never see it), SameSite=Strict (another site's page cannot
send it), random and kept in this process only, so a restart logs everybody out. Every
POST also carries the session's CSRF token (a hidden field, or a header from the page's
script) and, when the browser names one, an Origin or Referer of this very server. A
script may send the token in the X-Megatest-Token header instead: no cookie, so nothing
for another site to ride on.
"""
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from megatest.errors import MtError
from megatest.serve.rpc_client import TOKEN_HEADER

READS_KEY = "dashboard-reads"
READ_POLICIES = ("open", "token")
DEFAULT_READS = "token"
SESSION_IDLE = 12 * 3600        # s a session lives without a request
MAX_SESSIONS = 1000             # the least recently used go first beyond this
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


class Refused(Exception):
    """A request the checks turn away: STATUS and one line saying why and what to do."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def read_policy(settings):
    """"open" or "token" from [server] dashboard-reads; MtError naming the line otherwise."""
    value = (settings.config.get("server", READS_KEY) or DEFAULT_READS).strip()
    if value not in READ_POLICIES:
        raise MtError(f"[server] {READS_KEY} must be open or token, got {value!r}",
                      path=settings.where("server", READS_KEY))
    return value


@dataclass
class Session:
    sid: str
    csrf: str
    logged_in: bool = False
    seen: float = field(default_factory=time.monotonic)


class Sessions:
    """The sessions of one server, by id. Thread-safe: every connection has its thread."""

    def __init__(self, idle=SESSION_IDLE, limit=MAX_SESSIONS):
        self.idle, self.limit = idle, limit
        self._by_id = {}
        self._lock = threading.Lock()

    def new(self, logged_in=False):
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), logged_in)
        with self._lock:
            if len(self._by_id) >= self.limit:
                oldest = min(self._by_id.values(), key=lambda s: s.seen)
                del self._by_id[oldest.sid]
            self._by_id[session.sid] = session
        return session

    def get(self, sid):
        """The live session SID, or None (unknown, or idle too long: then dropped)."""
        now = time.monotonic()
        with self._lock:
            session = self._by_id.get(sid or "")
            if session is None:
                return None
            if now - session.seen > self.idle:
                del self._by_id[session.sid]
                return None
            session.seen = now
            return session

    def drop(self, sid):
        with self._lock:
            self._by_id.pop(sid, None)


class Gate:
    """The checks of one dashboard: its read policy, the token, the sessions, the cookie."""

    def __init__(self, policy, token_ok, cookie_name):
        self.policy, self.token_ok, self.cookie_name = policy, token_ok, cookie_name
        self.sessions = Sessions()

    def session(self, request):
        return self.sessions.get(request.cookies.get(self.cookie_name))

    def by_token(self, request):
        """True when the request carries the right token in the header."""
        given = request.headers.get(TOKEN_HEADER)
        return given is not None and self.token_ok(given)

    def may_read(self, request):
        if self.policy == "open" or self.by_token(request):
            return True
        session = self.session(request)
        return session is not None and session.logged_in

    def check_post(self, request, need_login=True):
        """The session a POST acts in (None when it came with the token header); Refused
        when it may not act."""
        if not same_origin(request.headers):
            raise Refused(403, "cross-origin request refused: this form must come from the "
                               "dashboard's own pages")
        if self.by_token(request):
            return None
        session = self.session(request)
        if session is None:
            raise Refused(403, "no session (cookies off, or the server restarted): "
                               "open the page again")
        given = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
        if not hmac.compare_digest(given.encode(), session.csrf.encode()):
            raise Refused(403, "missing or wrong CSRF token: reload the page and try again")
        if need_login and not session.logged_in:
            raise Refused(401, "log in with the area token first")
        return session

    def login(self, session, token):
        """A new logged-in session replacing SESSION (a fresh id: one fixed before the login
        is worthless after it); Refused for a wrong token."""
        if not self.token_ok(token):
            raise Refused(401, "wrong token: copy it from .mt/token in the area")
        self.sessions.drop(session.sid)
        return self.sessions.new(logged_in=True)

    def logout(self, session):
        if session is not None:
            self.sessions.drop(session.sid)

    def cookie(self, session):
        """The Set-Cookie value for SESSION, or the one that clears the cookie for None.
        No Secure flag: the server speaks plain HTTP."""
        if session is None:
            return f"{self.cookie_name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        return f"{self.cookie_name}={session.sid}; Path=/; HttpOnly; SameSite=Strict"


def same_origin(headers):
    """False when the browser says the request comes from a page of another origin (Origin,
    else Referer, against Host); True when it says nothing (scripts, old browsers)."""
    host = (headers.get("Host") or "").lower()
    origin = headers.get("Origin")
    if origin is not None:
        return origin != "null" and _netloc(origin) == host
    referer = headers.get("Referer")
    if referer:
        return _netloc(referer) == host
    return True


def _netloc(url):
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts.netloc.lower() if parts.scheme in ("http", "https") else None
