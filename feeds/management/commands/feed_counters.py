"""Verify (or rebuild) the live-row counts the feed pages by."""

from django.core.management.base import BaseCommand, CommandError

from feeds.liveblocks import live_blocks_mismatches, live_blocks_rebuild


class Command(BaseCommand):
    help = "Check the feed's live-row counts against the tables; --rebuild recounts them."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true")

    def handle(self, *args, rebuild: bool, **options):
        if rebuild:
            live_blocks_rebuild()
            self.stdout.write(self.style.SUCCESS("Recounted the feed's live rows."))
            return
        wrong = live_blocks_mismatches()
        if wrong:
            lines = [
                f"{entity} block {block}: stored {stored}, counted {counted}"
                for entity, blocks in wrong.items()
                for block, (stored, counted) in sorted(blocks.items())
            ]
            raise CommandError("Counts are off (run with --rebuild):\n" + "\n".join(lines))
        self.stdout.write(self.style.SUCCESS("The feed's live-row counts match the tables."))
