from django.urls import path

from souscription.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("connexion/", views.LoginView.as_view(), name="login"),
    path("connexion/second-facteur/", views.second_factor_view, name="second_factor"),
    path("connexion/enrolement/", views.enrol_view, name="enrol"),
    path("connexion/sso/", views.sso_start, name="sso_start"),
    path("connexion/sso/retour/", views.sso_callback, name="sso_callback"),
    path("deconnexion/", views.LogoutView.as_view(), name="logout"),
]
