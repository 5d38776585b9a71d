"""Erase a customer's personal data: the command line's door to shop.erasure."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from shop.erasure import customer_erase
from shop.models import MAX_INT, Customer


class Command(BaseCommand):
    help = (
        "Erase a customer's personal data, on them and on every order of theirs, and every copy "
        "the store keeps; amounts, dates, line items and statuses stay. Irreversible."
    )

    def add_arguments(self, parser):
        parser.add_argument("customer_id", help="The customer's id.")

    def handle(self, *args, customer_id: str, **options):
        if not customer_id.isdigit() or not 1 <= int(customer_id) <= MAX_INT:
            raise CommandError(f"{customer_id!r} is not a customer id (a whole number).")
        customer = Customer.objects.filter(pk=int(customer_id)).first()
        if customer is None:
            raise CommandError(f"No customer with id {customer_id}.")
        try:
            done = customer_erase(customer=customer, actor=None)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if not done.changed:
            self.stdout.write(f"Customer #{customer.pk} was erased already: nothing changed.")
            return
        self.stdout.write(
            f"Customer #{customer.pk} erased, with {done.orders_erased} order(s); converted.in "
            "and the webhook subscribers will be told."
        )
