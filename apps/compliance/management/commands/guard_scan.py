"""`manage.py guard_scan`: JSON lines `{"text": ...}` on stdin, one
`{"flagged": ..., "reasons": [...]}` line out per input line, judged by the assistant's own
input guard (`apps.compliance.guards.input_guard_check`)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from apps.compliance.guards import input_guard_check
from apps.compliance.management.commands._jsonlines import (
    batches,
    dumps,
    input_stream,
    quiet_broken_pipe,
    text_of,
)


class Command(BaseCommand):
    help = (
        'Read JSON lines {"text": ...} on stdin; write {"flagged": true|false, "reasons": '
        '[...]} per line ({"error": ...} for a line that is not such an object). No database.'
    )
    requires_system_checks = []
    stealth_options = ("stdin",)

    def handle(self, *args, **options):
        with quiet_broken_pipe():
            # The guard takes a fraction of a millisecond: answer each line as it comes.
            for (line,) in batches(input_stream(options.get("stdin")), 1):
                request = text_of(line)
                if isinstance(request, dict):
                    self.stdout.write(dumps(request))
                else:
                    verdict = input_guard_check(request)
                    answer = {"flagged": verdict.flagged, "reasons": verdict.reasons}
                    self.stdout.write(dumps(answer))
                self.stdout.flush()
