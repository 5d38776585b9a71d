"""Recount the dashboard's figures from the orders."""

from django.core.management.base import BaseCommand

from shop import figures


class Command(BaseCommand):
    help = (
        "Recount the dashboard's figures (orders per quarter hour, products per day, orders per "
        "status) from the orders: after writing orders other than through the services."
    )

    def handle(self, *args, **options):
        figures.recompute()
        self.stdout.write("The dashboard's figures are recounted.")
