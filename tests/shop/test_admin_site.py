"""The admin's sidebar and index: every staff page reachable, the page's own entry marked, and
the technical models shown only to superusers and the System group."""

import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from backoffice.admin_site import SYSTEM_GROUP

pytestmark = pytest.mark.django_db


def _sidebar_entries(html: str) -> dict[str, str]:
    """Entry name -> address, of the app list's rows."""
    rows = re.findall(r'<th scope="row"[^>]*>\s*<a href="([^"]+)"[^>]*>([^<]+)</a>', html)
    return {name: url for url, name in rows}


def _current(html: str) -> list[str]:
    return re.findall(r'<a href="[^"]+" aria-current="page">([^<]+)</a>', html)


@pytest.fixture
def store_admin(django_user_model, store):
    """Staff with every permission, not a superuser."""
    user = django_user_model.objects.create_user("manager", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.all())
    return user


def test_the_index_lists_the_connection_page_the_push_log_and_the_quality_report(
    admin_client, store
):
    html = admin_client.get(reverse("admin:index")).content.decode()
    entries = _sidebar_entries(html)
    assert entries["Connection"] == reverse("feeds-connection:page")
    assert entries["Push log"] == reverse("push:log")
    assert entries["Data quality"] == reverse("admin:shop_quality")
    assert entries["Feed tokens"] == reverse("admin:feeds_feedtoken_changelist")
    assert entries["Feed requests"] == reverse("admin:feeds_feedrequest_changelist")


@pytest.mark.parametrize(
    ("url_name", "entry"),
    [
        ("admin:shop_quality", "Data quality"),
        ("feeds-connection:page", "Connection"),
        ("push:log", "Push log"),
        ("admin:shop_order_changelist", "Orders"),
        ("admin:feeds_feedtoken_changelist", "Feed tokens"),
    ],
)
def test_each_page_marks_its_own_entry_in_the_sidebar(admin_client, store, url_name, entry):
    response = admin_client.get(reverse(url_name))
    assert response.status_code == 200
    assert _current(response.content.decode()) == [entry]


def test_the_converted_in_group_of_its_app_page_lists_its_pages(admin_client, store):
    html = admin_client.get(reverse("admin:app_list", args=["feeds"])).content.decode()
    assert {"Connection", "Push log", "Feed tokens", "Feed requests"} <= set(_sidebar_entries(html))


def test_pages_are_listed_only_for_those_who_may_open_them(staff_client, store):
    html = staff_client("view_customer").get(reverse("admin:index")).content.decode()
    entries = _sidebar_entries(html)
    assert "Data quality" in entries
    assert "Connection" not in entries
    assert "Push log" not in entries


def test_a_push_log_reader_without_feed_permissions_finds_it_under_converted_in(
    staff_client, store
):
    html = staff_client("view_pushevent").get(reverse("admin:index")).content.decode()
    assert _sidebar_entries(html) == {"Push log": reverse("push:log")}
    assert "converted.in" in html


def test_a_store_admin_outside_the_system_group_sees_no_technical_model(client, store_admin):
    client.force_login(store_admin)
    html = client.get(reverse("admin:index")).content.decode()
    assert "Task results" not in html.replace("Task Results", "Task results")
    assert "Orders" in _sidebar_entries(html)
    url = reverse("admin:django_tasks_database_dbtaskresult_changelist")
    assert client.get(url).status_code == 403


def test_the_system_group_and_superusers_see_the_technical_models(
    client, admin_client, store_admin
):
    store_admin.groups.add(Group.objects.get(name=SYSTEM_GROUP))
    client.force_login(store_admin)
    url = reverse("admin:django_tasks_database_dbtaskresult_changelist")
    for who in (client, admin_client):
        html = who.get(reverse("admin:index")).content.decode()
        assert url in _sidebar_entries(html).values()
        assert who.get(url).status_code == 200
