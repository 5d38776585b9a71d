"""Kept for old deploy scripts: workers start the push pump themselves (push/tasks.py)."""

from django.core.management.base import BaseCommand

from push.tasks import pump_ensure


class Command(BaseCommand):
    help = "Nothing to do before the workers: enqueue the push pump only if no chain runs."

    def handle(self, *args, **options):
        if pump_ensure():
            self.stdout.write("Push pump enqueued.")
        else:
            self.stdout.write("A push pump is running already.")
