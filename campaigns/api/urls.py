"""The campaigns app's API routes (in the API's shared namespace)."""

from campaigns.api import campaigns, messages, webhooks

urlpatterns = [*campaigns.urlpatterns, *messages.urlpatterns, *webhooks.urlpatterns]
