"""Small helpers the tests share."""

from __future__ import annotations

import subprocess
import time

import pytest
from django_otp.oath import totp

PASSWORD = "correct horse battery staple"


def totp_code(device, *, offset: int = 0) -> str:
    """The code an authenticator app shows now (offset in 30-second steps)."""
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset)
    return f"{code:0{device.digits}d}"


def wait_for(condition, *, seconds: float = 20, interval: float = 0.1):
    """Poll until `condition()` is truthy; return its value or fail the test."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {seconds} s")


def process_stop(process: subprocess.Popen | None) -> None:
    """Ask a child process to stop, then make it."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
