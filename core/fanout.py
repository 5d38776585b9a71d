"""Spread independent pieces of work over forked processes, as the import's preview does with
its batches (each batch's check reads the database and writes nothing).

The children are forks of the calling process: they inherit its settings, its code and
whatever it built before the call, and open database connections of their own. So they see
only committed data: a caller inside a transaction, or on an in-memory SQLite database, works
alone (`forkable()` says which).
"""

import gc
import multiprocessing
import multiprocessing.util
import os
import signal
import traceback
from collections.abc import Callable, Generator, Iterable
from typing import Any

from django.db import connections

# A child not sent anything for this many seconds checks that its parent is still there.
_PARENT_CHECK_SECONDS = 1.0


class ChildFailed(RuntimeError):
    """A piece of work raised in a child process (its traceback is the message)."""


def forkable(using: str | None = "default") -> bool:
    """Whether work can go to forked children: they need the parent's data committed and a
    database they can open themselves (`using` None: work that never touches a database,
    which may be forked from anywhere)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    if multiprocessing.current_process().daemon:
        return False  # a daemonic process may not have children
    if using is None:
        return True
    connection = connections[using]
    if connection.in_atomic_block:
        return False
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())  # type: ignore[attr-defined]


def _no_queries(execute, sql, params, many, context):
    raise RuntimeError("This work was forked not to touch the database: it may not query it.")


def _serve(
    work: Callable[[Any], Any], channel, parent: int, siblings: list, own_connections: bool
) -> None:
    # The parent decides when to stop (a worker stopping gracefully finishes its task, with
    # its children): a signal to the whole process group leaves them running.
    for name in ("SIGINT", "SIGTERM", "SIGQUIT"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    for sibling in siblings:
        # The parent's ends of the channels, this child's own included, forked with it: closed
        # here, a channel ends when the parent closes it or dies.
        sibling.close()
    # What the child inherited stays out of its collector's passes (and its pages shared
    # with the parent's, as the passes would write to them).
    gc.freeze()
    if not own_connections:
        for connection in connections.all(initialized_only=True):
            connection.execute_wrappers.append(_no_queries)
    try:
        while True:
            if not channel.poll(_PARENT_CHECK_SECONDS):
                if os.getppid() != parent:
                    return  # the parent died: nobody will read the answer
                continue
            try:
                message = channel.recv()
            except EOFError:
                return
            if message is None:
                return  # the parent is done
            try:
                answer = (True, work(message[0]))
            except BaseException:
                answer = (False, traceback.format_exc())
            try:
                channel.send(answer)
            except OSError:
                return  # the parent stopped listening
    finally:
        # Only connections the child opened: one forked open from the parent is the parent's
        # (closing it here could end the parent's session). The child ends with os._exit,
        # leaving those untouched.
        if own_connections:
            connections.close_all()


def ordered_map(
    work: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    processes: int,
    using: str | None = "default",
) -> Generator[Any, None, None]:
    """`work(item)` for each item, in up to `processes` forked children, yielded in the
    items' order. Each child holds one item at a time, so at most `processes` items are read
    ahead of the caller. With fewer than two processes, or when `forkable()` says no, the
    work runs here. A child's exception is raised here as ChildFailed.

    The caller may stop early (break, or an exception): the children are stopped on the way
    out. A child whose parent dies stops within a second or so."""
    if processes < 2 or not forkable(using):
        for item in items:
            yield work(item)
        return
    context = multiprocessing.get_context("fork")
    if using is not None:
        connections.close_all()  # each child opens its own; the parent reopens on its next query
    parent = os.getpid()
    children: list[tuple[Any, Any]] = []
    # Also when the process exits with this generator not closed (an error's traceback kept
    # to the end): before multiprocessing joins its children at exit, which would wait for
    # ever on these (they ignore the SIGTERM it sends them, and wait for this process).
    stop = multiprocessing.util.Finalize(None, _stop, args=(children,), exitpriority=10)
    try:
        for _ in range(processes):
            here, there = context.Pipe()
            siblings = [*(channel for _, channel in children), here]
            child = context.Process(
                target=_serve,
                args=(work, there, parent, siblings, using is not None),
                daemon=True,
            )
            child.start()
            there.close()
            children.append((child, here))
        source = iter(items)
        waiting: list[int] = []  # which child holds each item sent, in the items' order
        for index, (_, channel) in enumerate(children):
            item = next(source, _END)
            if item is _END:
                break
            channel.send((item,))
            waiting.append(index)
        while waiting:
            index = waiting.pop(0)
            child, channel = children[index]
            try:
                ok, answer = channel.recv()
            except EOFError:
                raise ChildFailed(f"A child process ended (exit code {child.exitcode}).") from None
            item = next(source, _END)
            if item is not _END:
                channel.send((item,))  # before the caller handles the answer: the child works on
                waiting.append(index)
            if not ok:
                raise ChildFailed(answer)
            yield answer
    finally:
        stop()


def _stop(children: list[tuple[Any, Any]]) -> None:
    """Tell each child to end, and wait for it (a child still there after 5 s is killed)."""
    for _, channel in children:
        if channel.closed:
            continue
        try:
            channel.send(None)
        except OSError:
            pass  # that child has ended
        channel.close()
    for child, _ in children:
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
            child.join()


_END = object()
