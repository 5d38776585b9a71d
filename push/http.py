"""POST one push with a total deadline and a cap on the answer read, and say what went wrong
in words.

`requests` bounds each socket operation, not a request: a receiver sending one byte a second
holds the caller for as long as it likes. Here a timer shuts the connection's socket down when
the deadline passes, whichever phase the request is in (sending, waiting for the status line,
reading headers or body), so the blocked read returns at once and the request ends. Connecting
is bounded by the connect timeout, itself within the deadline; resolving the host's name is the
system resolver's (its own timeout, not this deadline).
"""

import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import IncompleteRead, RemoteDisconnected

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import ProxyManager

# The longest error message kept: a sentence, cut between words.
ERROR_CHARS = 200


class Worded(Exception):
    """A failure whose message is already a sentence for the staff."""


class AnswerTooSlow(Worded):
    """The receiver did not finish its answer by the deadline."""

    def __init__(self, seconds: float, status: int | None = None):
        super().__init__(f"The answer took longer than {seconds:g} s")
        self.status = status


@dataclass
class Answer:
    status: int
    body: bytes  # at most the cap
    retry_after: str | None

    @property
    def first_line(self) -> str:
        text = self.body.decode("utf-8", errors="replace")
        line = next((line.strip() for line in text.splitlines() if line.strip()), "")
        return shorten(line)


class _Deadline:
    """Shut the watched connection's socket down once `seconds` have passed."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._connection: HTTPConnection | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        _local.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()
        _local.deadline = None

    def watch(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connection = connection
            if self.expired:
                _shut(connection)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._connection is not None:
                _shut(self._connection)


def _shut(connection: HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # closed already


_local = threading.local()


class _Watched:
    """A connection that hands itself to the current deadline before each request."""

    def request(self, *args, **kwargs):
        deadline = getattr(_local, "deadline", None)
        if deadline is not None:
            deadline.watch(self)
        return super().request(*args, **kwargs)


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


WATCHED_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = WATCHED_POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is ProxyManager:  # an HTTP(S) proxy; SOCKS has its own pools
            manager.pool_classes_by_scheme = WATCHED_POOLS
        return manager


def session() -> requests.Session:
    """A session whose requests `post` can cut off at its deadline."""
    s = requests.Session()
    s.mount("http://", _Adapter())
    s.mount("https://", _Adapter())
    return s


def post(
    s: requests.Session,
    url: str,
    *,
    data: bytes,
    headers: dict[str, str],
    deadline: float,
    connect_timeout: float,
    cap: int,
) -> Answer:
    """POST and read at most `cap` bytes of the answer, all within `deadline` seconds.

    Raises AnswerTooSlow past the deadline, or what `requests` raises."""
    status = None
    with _Deadline(deadline) as watch:
        try:
            response = s.post(
                url,
                data=data,
                headers=headers,
                timeout=(min(connect_timeout, deadline), deadline),
                allow_redirects=False,
                stream=True,
            )
            status = response.status_code
            try:
                body = bytearray()
                for chunk in response.iter_content(chunk_size=1024):
                    body += chunk
                    if len(body) >= cap:
                        break
            finally:
                # Read whole, the connection went back to the pool; otherwise it is closed.
                response.close()
        except Exception as exc:
            if watch.expired or isinstance(exc, requests.ReadTimeout):
                raise AnswerTooSlow(deadline, status) from exc
            raise
    if watch.expired:
        # Cut off mid-answer, http.client may take what it got for a whole (short) answer.
        raise AnswerTooSlow(deadline, status)
    return Answer(status, bytes(body[:cap]), response.headers.get("Retry-After"))


def shorten(text: str, limit: int = ERROR_CHARS) -> str:
    """One line of at most `limit` characters, cut between words."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-") + "…"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and every exception behind it (causes, contexts, wrapped reasons)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        behind = [getattr(current, "reason", None), current.__cause__, current.__context__]
        behind += [arg for arg in current.args if isinstance(arg, BaseException)]
        stack.extend(e for e in behind if isinstance(e, BaseException))


def _connect_reason(exc: BaseException, connect_timeout: float) -> str:
    causes = list(_causes(exc))

    def find(kind):
        return next((e for e in causes if isinstance(e, kind)), None)

    if find(socket.gaierror):
        return "its name does not resolve"
    if find(ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, requests.ConnectTimeout) or find(TimeoutError):
        return f"no connection within {connect_timeout:g} s"
    if verify := find(ssl.SSLCertVerificationError):
        return f"its certificate is not valid ({shorten(verify.verify_message or '', 80)})"
    if find(ssl.SSLError):
        return "the secure connection (TLS) failed"
    if error := find(OSError):
        if error.strerror:
            return error.strerror[0].lower() + error.strerror[1:]
    return type(exc).__name__


def describe(exc: BaseException, *, host: str, connect_timeout: float) -> str:
    """What went wrong, as a short sentence: no reprs, no addresses of objects."""
    if isinstance(exc, Worded):
        return shorten(str(exc))
    causes = list(_causes(exc))
    if any(isinstance(e, RemoteDisconnected) for e in causes):
        return f"{host} closed the connection without answering"
    if any(isinstance(e, IncompleteRead) for e in causes) or isinstance(
        exc, requests.exceptions.ChunkedEncodingError
    ):
        return f"{host}'s answer was cut short"
    if any(isinstance(e, ConnectionResetError) for e in causes):
        return f"{host} reset the connection"
    if isinstance(exc, requests.ConnectionError):
        return shorten(f"Could not connect to {host}: {_connect_reason(exc, connect_timeout)}")
    message = str(exc).splitlines()[0] if str(exc).strip() else ""
    return shorten(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)
