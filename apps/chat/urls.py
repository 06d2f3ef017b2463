"""Customer chat pages, mounted at /chat/."""

app_name = "chat"

urlpatterns: list = []
