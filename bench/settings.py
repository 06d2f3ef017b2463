"""banksight.settings for the chat benchmarks, with one workaround until the application
has it (the chat benchmarks' `--as-shipped` runs without it):

redis-py 8 reads with a 5 s socket timeout by default (it had none before), and
channels_redis waits for a consumer's next event with a blocking BZPOPMIN of 5 s. A chat
socket that gets no event for 5 s (an answer queued behind others, or simply an idle
customer) then dies with redis.exceptions.TimeoutError inside the consumer and the
client sees the connection drop. A read timeout longer than the blocking pop keeps
dead-connection detection and lets the pop time out on the server's side.
"""

from banksight.settings import *  # noqa: F403
from banksight.settings import CHANNEL_LAYERS

CHANNEL_LAYER_SOCKET_TIMEOUT_S = 15  # > channels_redis' brpop_timeout (5 s)

for _layer in CHANNEL_LAYERS.values():
    _config = _layer.setdefault("CONFIG", {})
    _config["hosts"] = [
        host
        if isinstance(host, dict)
        else {"address": host, "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT_S}
        for host in _config.get("hosts", [])
    ]
