"""`manage.py pii_scan`: JSON lines `{"text": ...}` on stdin, one `{"spans": [...]}` line out
per input line, found by the same analyzer as the assistant (`apps.compliance.pii`)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from apps.compliance.management.commands._jsonlines import (
    batches,
    dumps,
    input_stream,
    quiet_broken_pipe,
    text_of,
)
from apps.compliance.pii import pii_find_many, pii_warm_up


class Command(BaseCommand):
    help = (
        'Read JSON lines {"text": ...} on stdin; write {"spans": [{"type", "start", "end"}]} '
        'per line ({"error": ...} for a line that is not such an object). No database.'
    )
    requires_system_checks = []
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=32,
            help="Lines analysed together (spaCy is faster in batches). Answers come out a "
            "batch at a time: use 1 to get each answer before sending the next line.",
        )

    def handle(self, *args, **options):
        with quiet_broken_pipe():
            pii_warm_up()
            for lines in batches(input_stream(options.get("stdin")), max(1, options["batch_size"])):
                requests = [text_of(line) for line in lines]
                texts = [r for r in requests if isinstance(r, str)]
                found = iter(pii_find_many(texts, batch_size=len(texts) or 1))
                for request in requests:
                    if isinstance(request, dict):
                        self.stdout.write(dumps(request))
                        continue
                    spans = [{"type": s.type, "start": s.start, "end": s.end} for s in next(found)]
                    self.stdout.write(dumps({"spans": spans}))
                self.stdout.flush()
