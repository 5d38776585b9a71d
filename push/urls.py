"""The push's own staff pages, under /admin/convertedin/push/ (config/urls.py)."""

from django.contrib import admin
from django.urls import path

from . import views

app_name = "push"

urlpatterns = [
    path("log/", admin.site.admin_view(views.log_view), name="log"),
]
