from django.urls import include, path

from souscription.api import api
from souscription.connectors.views import metrics

urlpatterns = [
    path("api/v1/", api.urls),
    path("metrics", metrics, name="metrics"),
    path("espace-client/", include("souscription.web.portal_urls")),
    path("", include("souscription.web.urls")),
]
