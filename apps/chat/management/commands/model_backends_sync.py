"""Register model backends: the local llama.cpp servers of `make run`, or the deployment's.

    manage.py model_backends_sync --llama-cpp smollm2=http://127.0.0.1:PORT/v1 [...]
    manage.py model_backends_sync --from-env      # INFERENCE_URL, INFERENCE_MODEL[, INFERENCE_KIND]

Rows are created or pointed at the given URL (audited, as the system account). The first
backend named becomes active only when none is: a choice made by staff survives restarts.
"""

from __future__ import annotations

import os

from auditlog.context import set_actor
from django.core.management.base import BaseCommand, CommandError

from apps.chat import registry
from apps.chat.models import ModelBackend
from apps.compliance.audit import system_actor
from banksight.modelserver import LOCAL_MODELS

# In the fallback chain by default; Gemma (a base model: junk answers) is kept out of it.
LOCAL_CHAIN = {"smollm2": 0}


class Command(BaseCommand):
    help = "Create or update model backends from arguments or the environment."

    def add_arguments(self, parser):
        parser.add_argument(
            "--llama-cpp",
            action="append",
            default=[],
            metavar="NAME=URL",
            help="a local llama.cpp server (its --model_alias is NAME)",
        )
        parser.add_argument(
            "--from-env",
            action="store_true",
            help="the backend in INFERENCE_URL / INFERENCE_MODEL / INFERENCE_KIND, if set",
        )
        parser.add_argument("--activate", default="", help="make this backend active now")

    def handle(self, *args, llama_cpp, from_env, activate, **options):
        actor = system_actor()
        names = []
        with set_actor(actor):
            for item in llama_cpp:
                name, sep, url = item.partition("=")
                if not sep or not name or not url:
                    raise CommandError(f"--llama-cpp wants NAME=URL, got {item!r}")
                registry.model_backend_upsert(
                    name=name,
                    kind=ModelBackend.Kind.LLAMA_CPP,
                    base_url=url,
                    model=name,
                    label=LOCAL_MODELS[name].label if name in LOCAL_MODELS else name,
                    fallback_order=LOCAL_CHAIN.get(name),
                    # A CPU shared with the rest of the stack: allow a slow first token.
                    first_token_timeout_s=10.0,
                    request_timeout_s=120.0,
                )
                names.append(name)
            if from_env and os.environ.get("INFERENCE_URL"):
                kind = os.environ.get("INFERENCE_KIND", ModelBackend.Kind.VLLM)
                if kind not in ModelBackend.Kind.values:
                    raise CommandError(f"INFERENCE_KIND must be one of {ModelBackend.Kind.values}")
                name = os.environ.get("INFERENCE_BACKEND_NAME", "inference")
                registry.model_backend_upsert(
                    name=name,
                    kind=kind,
                    base_url=os.environ["INFERENCE_URL"],
                    model=os.environ.get("INFERENCE_MODEL", ""),
                    label=f"{os.environ.get('INFERENCE_MODEL', name)} ({kind})",
                    fallback_order=0,
                )
                names.insert(0, name)
            if activate:
                backend = registry.model_backend_get(name=activate)
                registry.model_backend_activate(backend=backend, actor=actor)
            elif names:
                registry.model_backend_activate_first_if_none(name=names[0], actor=actor)
        active = ModelBackend.objects.filter(is_active=True).first()
        self.stdout.write(
            f"model backends: {', '.join(names) or 'none given'}; active: "
            f"{active.name if active else 'none'}"
        )
