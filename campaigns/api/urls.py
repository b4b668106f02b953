"""The campaigns app's API routes (in the API's shared namespace)."""

from campaigns.api import messages, webhooks

urlpatterns = [*messages.urlpatterns, *webhooks.urlpatterns]
