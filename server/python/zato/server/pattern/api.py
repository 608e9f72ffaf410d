# -*- coding: utf-8 -*-
"""`self.patterns`: upstream's parallel execution and fan-out/fan-in, over durable async
invocations (so targets run on any server and survive a crash), and invoke-retry.

- parallel.invoke(targets, on_target, cid=None): each target (`{service: payload}`) runs on
  channel `parallel-exec-call` under one CID; each outcome goes to every `on_target` service on
  channel `parallel-exec-on-target`.
- fanout.invoke(targets, on_final, on_target=None, cid=None): the same on `fanout-call`, with
  `fanout-on-target`; once all ended, `{phase: 'on-final', source, req_ts_utc, on_target,
  on_final, data: [outcomes]}` goes to every `on_final` service on `fanout-on-final`.
- invoke_retry.invoke(target, *args, repeats=3, seconds=... | minutes=..., **invoke_kw): up to
  `repeats` tries, waiting in between; the last failure is raised. With async_fallback=True and
  a callback, the retries after a failed first try are durable async requests (see InvokeRetry).

An outcome is `{source, target, response, req_ts_utc, resp_ts_utc, ok, exception, cid}` (with
`phase: 'on-target'` when sent on its own), as upstream."""

import time
from datetime import datetime, timezone

from zato.common.api import CHANNEL
from zato.server.service.support import native


def _names(value):
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


def _now_iso():
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat()


class _Parallel:
    kind = 'parallel'
    call_channel = CHANNEL.PARALLEL_EXEC_CALL

    def __init__(self, source):
        self.source = source

    def _invoke(self, targets, on_final, on_target, cid):
        from zato import _runtime
        cid = cid or self.source.cid
        targets = dict(targets)
        ctx = {'kind': self.kind, 'source': self.source.name, 'req_ts_utc': _now_iso(), 'total': len(targets),
            'on_target': _names(on_target), 'on_final': _names(on_final)}
        # Stored all or none, in one round trip: a fan-out is never half sent.
        calls = [(_runtime._resolve(name)[1], payload) for name, payload in targets.items()]
        native().invoke_async_all(calls, self.call_channel, cid, ctx)
        return cid

    def invoke(self, targets, on_target, cid=None):
        return self._invoke(targets, None, on_target, cid)


class ParallelExec(_Parallel):
    pass


class FanOut(_Parallel):
    kind = 'fanout'
    call_channel = CHANNEL.FANOUT_CALL

    def invoke(self, targets, on_final, on_target=None, cid=None):
        return self._invoke(targets, on_final, on_target, cid)


class InvokeRetry:
    """Upstream's invoke-retry: one synchronous try, then either synchronous retries `seconds`
    apart (the last failure raised) or, with `async_fallback=True` (`callback` and `repeats`
    required), a CID at once while the retries run as durable async requests on any server,
    the first at once and the others `seconds` apart; the `callback` services then get
    `{ok, orig_cid, call_cid, source, target, retry_seconds, retry_repeats, context, req_ts_utc,
    resp_ts_utc, response}`."""

    def __init__(self, source):
        self.source = source

    def invoke(self, target, *args, **kwargs):
        repeats = int(kwargs.pop('repeats', 3) or 1)
        seconds = kwargs.pop('seconds', 0) or 0
        minutes = kwargs.pop('minutes', 0) or 0
        async_fallback = kwargs.pop('async_fallback', False)
        callback = kwargs.pop('callback', None)
        context = kwargs.pop('context', None)
        pause = float(seconds) + 60.0 * float(minutes)
        if async_fallback and not (callback and repeats):
            raise ValueError('invoke_retry with async_fallback=True needs a callback and repeats')
        req_ts = _now_iso()
        if async_fallback:
            try:
                return self.source.invoke(target, *args, **kwargs)
            except Exception:
                from zato import _runtime
                _, name = _runtime._resolve(target)
                payload = args[0] if args else kwargs.get('payload', '')
                ctx = {'kind': 'retry', 'source': self.source.name, 'req_ts_utc': req_ts,
                    'callback': _names(callback), 'context': context, 'repeats': repeats,
                    'seconds': pause, 'left': repeats, 'orig_cid': self.source.cid}
                return native().invoke_async(name, payload, CHANNEL.INVOKE, [], 0.0, '', ctx)
        for attempt in range(1, repeats + 1):
            try:
                return self.source.invoke(target, *args, **kwargs)
            except Exception:
                if attempt == repeats:
                    raise
                time.sleep(pause)


class PatternsFacade:
    """What `self.patterns` is."""

    def __init__(self, source):
        self.fanout = FanOut(source)
        self.parallel = ParallelExec(source)
        self.invoke_retry = InvokeRetry(source)
