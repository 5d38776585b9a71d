"""The push's own staff pages, under /admin/convertedin/push/ (backoffice/urls.py)."""

from django.contrib import admin
from django.urls import path

from . import push_pages as views

app_name = "push"

urlpatterns = [
    path("log/", admin.site.admin_view(views.log_view), name="log"),
]
