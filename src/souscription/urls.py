from django.urls import include, path

from souscription.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("espace-client/", include("souscription.web.portal_urls")),
    path("", include("souscription.web.urls")),
]
