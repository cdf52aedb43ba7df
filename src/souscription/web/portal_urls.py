from django.urls import path

from souscription.web import portal_views as views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("inscription/", views.register, name="register"),
    path("verification/", views.verify, name="verify"),
    path("connexion/", views.sign_in, name="sign_in"),
    path("connexion/code/", views.code, name="code"),
    path("connexion/nouveau-code/", views.new_code, name="new_code"),
    path("mot-de-passe-oublie/", views.forgot_password, name="forgot_password"),
    path("nouveau-mot-de-passe/", views.new_password, name="new_password"),
    path("deconnexion/", views.sign_out, name="sign_out"),
]
