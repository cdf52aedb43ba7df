"""Thin views: sign in, sign out, the home page of the signed-in role."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from souscription.web.home import home_for


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@never_cache
@login_required
def home(request: HttpRequest) -> HttpResponse:
    role = getattr(request.user, "staff_role", None)
    if role is None:
        return render(request, "web/no_role.html", status=403)
    page = home_for(role)
    figures = [(figure.label, figure.value()) for figure in page.figures]
    return render(request, "web/home.html", {"role": role, "missions": page.missions, "figures": figures})
