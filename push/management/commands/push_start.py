"""Enqueue the push worker's pump unless one is waiting: run once before the workers."""

from django.core.management.base import BaseCommand

from push.tasks import pump_start


class Command(BaseCommand):
    help = "Start delivering pushes to converted.in (enqueue the pump task if none waits)."

    def handle(self, *args, **options):
        pump_start()
        self.stdout.write("Push pump enqueued.")
