"""Staff pages of the human handoff: the queue and the agent console (/staff/chat/...)."""

urlpatterns: list = []
