import pytest
from django.contrib.auth.models import Group

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("i", [1, 2])
def test_perm(i):
    g = Group.objects.get(name="Manager")
    print("\nPERMS", i, sorted(p.codename for p in g.permissions.all()))
