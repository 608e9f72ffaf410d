# -*- coding: utf-8 -*-
"""`self.schedule` in services: upstream's facade over `zato.scheduler.job.create`."""

import json
from datetime import datetime, timedelta, timezone


def _utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Schedule:
    """Creates jobs on behalf of the service it was taken from."""

    __slots__ = ('_service',)

    def __init__(self, service):
        self._service = service

    def onetime(self, *args, name='', prefix='', start_date='', after_seconds=0, after_minutes=0, data=''):
        """Runs a service once, at `start_date` (UTC; a datetime or its ISO text) or after the given
        seconds and minutes from now, with `data` as its payload; returns the new job's id.

        As upstream: `self.schedule.onetime(self, 'my.service', 'job name', after_seconds=5)`;
        the invoking service may be left out: `self.schedule.onetime('my.service', ...)`.
        """
        args = list(args)
        invoker = self._service
        if args and not isinstance(args[0], (str, type)):
            invoker = args.pop(0)
        if not args:
            raise TypeError('onetime() needs the service to run, by name or as a class')
        target = args.pop(0)
        if args:
            name = args.pop(0)
        if args:
            raise TypeError('onetime() takes the invoking service, the service to run and a job name')
        target = target if isinstance(target, str) else target.get_name()

        now = _utcnow()
        if not start_date:
            start_date = now + timedelta(seconds=after_seconds, minutes=after_minutes)
        if isinstance(start_date, datetime):
            if start_date.tzinfo is not None:
                start_date = start_date.astimezone(timezone.utc).replace(tzinfo=None)
            start_date = start_date.replace(microsecond=0).isoformat()

        if not name:
            name = '{}{} -> {} {} {}'.format(prefix + ' ' if prefix else '', getattr(invoker, 'name', ''), target,
                now.isoformat(), self._service.cid)

        if data is None or data == '':
            extra = ''
        elif isinstance(data, str):
            extra = data
        else:
            extra = json.dumps(data)

        response = self._service.invoke('zato.scheduler.job.create', {
            'name': name, 'is_active': True, 'job_type': 'one_time', 'service': target, 'start_date': start_date,
            'extra': extra,
        })
        return response['id']
