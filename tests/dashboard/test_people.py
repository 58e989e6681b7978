"""People: staff adds, lists and deactivates members; nobody else may."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.dashboard.conftest import PASSWORD

NEW_PERSON = {
    "username": "grandma",
    "password1": "knitting by the window 42",
    "password2": "knitting by the window 42",
}


def test_staff_sees_everyone(staff_client, owner, family):
    body = staff_client.get(reverse("people")).content.decode()

    assert "olivia" in body
    assert "felix" in body


def test_staff_adds_a_person_who_can_then_sign_in(staff_client, db):
    response = staff_client.post(reverse("people"), NEW_PERSON)

    assert response.status_code == 302
    person = get_user_model().objects.get(username="grandma")
    assert person.check_password("knitting by the window 42")
    assert not person.is_staff


def test_weak_initial_password_is_refused(staff_client, db):
    response = staff_client.post(
        reverse("people"),
        {"username": "grandma", "password1": "123", "password2": "123"},
    )

    assert response.status_code == 200
    assert "too short" in response.content.decode()
    assert not get_user_model().objects.filter(username="grandma").exists()


def test_staff_deactivates_and_reactivates_a_person(staff_client, family):
    staff_client.post(reverse("person_deactivate", args=[family.pk]))
    family.refresh_from_db()
    assert not family.is_active

    staff_client.post(reverse("person_activate", args=[family.pk]))
    family.refresh_from_db()
    assert family.is_active


def test_deactivated_person_is_signed_out(staff_client, family, family_client):
    staff_client.post(reverse("person_deactivate", args=[family.pk]))

    assert family_client.get(reverse("dashboard")).status_code == 302


def test_staff_cannot_deactivate_themselves(staff_client, staff):
    staff_client.post(reverse("person_deactivate", args=[staff.pk]))

    staff.refresh_from_db()
    assert staff.is_active


def test_deactivate_needs_a_post(staff_client, family):
    response = staff_client.get(reverse("person_deactivate", args=[family.pk]))

    family.refresh_from_db()
    assert response.status_code == 405
    assert family.is_active


@pytest.mark.parametrize("person", ["owner_client", "family_client"])
def test_members_may_not_manage_people(request, person, outsider):
    client = request.getfixturevalue(person)

    assert client.get(reverse("people")).status_code == 403
    assert client.post(reverse("people"), NEW_PERSON).status_code == 403
    client.post(reverse("person_deactivate", args=[outsider.pk]))

    outsider.refresh_from_db()
    assert outsider.is_active
    assert not get_user_model().objects.filter(username="grandma").exists()


def test_page_never_shows_password_hashes(staff_client, owner):
    body = staff_client.get(reverse("people")).content.decode()

    assert owner.password not in body
    assert PASSWORD not in body
