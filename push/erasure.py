"""An erased customer's values leave what the push and the webhooks kept (shop/erasure.py).

Bodies are built when sent, from the records as they are, so nothing waiting holds old values;
what was kept is the receivers' answers (which may echo a body) and the errors quoting them.
"""

from django.db.models import Q

from shop.erasure import mentioning, scrub_rows

from . import receiver
from .models import PushEvent, WebhookDelivery, WebhookSubscription

KEPT = ("last_answer", "last_error")


def forget_erased(sender, *, customer_id, order_ids, values, strong, **kwargs) -> None:
    theirs = Q(entity="customers", record_id=customer_id) | Q(
        entity="orders", record_id__in=order_ids
    )
    for model in (PushEvent, WebhookDelivery):
        scrub_rows(model.objects.filter(theirs), KEPT, values)
        scrub_rows(model.objects.filter(mentioning(KEPT, strong)), KEPT, values)
    reasons = ("disabled_reason",)
    scrub_rows(WebhookSubscription.objects.filter(mentioning(reasons, strong)), reasons, values)
    receiver.forget(values)  # the local stand-in's memory (make run), in this process
