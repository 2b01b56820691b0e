"""Words simulated customers type: searches, checkout questions, tickets, surveys and reviews.

Pools are per slice (rows follow SLICES) so that text carries the slice signal, with generic
pools mixed in as noise. ``{cat}`` in a search template is replaced by a category word.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CATEGORY_WORDS",
    "CHECKOUT_GENERIC",
    "CHECKOUT_QUESTIONS",
    "EMAIL_SUBJECTS",
    "EMAIL_TOPICS",
    "KEY_ACTIONS",
    "ONBOARDING_STEPS",
    "REFUND_REASONS",
    "REVIEW_TEXTS",
    "SEARCH_GENERIC",
    "SEARCH_TEMPLATES",
    "SURVEY_ANSWERS",
    "SURVEY_QUESTION",
    "TICKETS",
    "TICKET_SUBJECTS",
    "TONES",
]

CATEGORY_WORDS: Final[tuple[str, ...]] = (
    "coffee beans",
    "pour over kettle",
    "face serum",
    "magnesium",
    "dog food",
    "resistance bands",
    "hiking backpack",
    "merino t-shirt",
    "usb-c charger",
    "online course",
)

SEARCH_TEMPLATES: Final[tuple[tuple[str, ...], ...]] = (
    (
        "{cat} next day delivery",
        "{cat} in stock today",
        "fastest {cat}",
        "{cat} express shipping",
        "need {cat} asap",
        "{cat} same day",
    ),
    (
        "{cat} reviews",
        "best rated {cat}",
        "{cat} before and after",
        "does {cat} actually work",
        "{cat} comparison",
        "{cat} test results",
    ),
    (
        "easy {cat}",
        "{cat} quick setup",
        "{cat} no fuss",
        "{cat} subscription auto refill",
        "simple {cat} for busy people",
        "{cat} 5 minute",
    ),
    (
        "cheap {cat}",
        "{cat} discount code",
        "{cat} starter kit",
        "{cat} sale",
        "{cat} under 20",
        "{cat} money back guarantee",
    ),
    (
        "pro {cat}",
        "premium {cat}",
        "{cat} limited edition",
        "best {cat} for experts",
        "{cat} upgrade",
        "{cat} advanced",
    ),
)

SEARCH_GENERIC: Final[tuple[str, ...]] = ("{cat}", "{cat} gift", "{cat} colours", "new {cat}")

CHECKOUT_QUESTIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        "Can this arrive by tomorrow?",
        "Is there a faster shipping option?",
        "If I order now, when does it ship?",
        "Can someone call me to get me started today?",
        "How quickly will I see a difference?",
    ),
    (
        "Do you have results from people like me?",
        "How do I know this works before I commit?",
        "Are the reviews from verified buyers?",
        "Is there any data behind these claims?",
        "How does this compare with the other brands?",
    ),
    (
        "How long does setup take?",
        "Can I set it and forget it?",
        "Is there a quick-start checklist?",
        "Can refills be sent automatically?",
        "Do I need to read the whole manual?",
    ),
    (
        "What is your refund policy if it doesn't work for me?",
        "Can I get my money back if I change my mind?",
        "Is there a cheaper version to start with?",
        "Do you offer a payment plan?",
        "Is there a discount for first orders?",
        "How do returns work and who pays postage?",
    ),
    (
        "Is this the top model you sell?",
        "Will there be a pro version soon?",
        "Do members get early access to new releases?",
        "Can I get the limited edition colour?",
        "Is there an advanced programme after this one?",
    ),
)

CHECKOUT_GENERIC: Final[tuple[str, ...]] = (
    "Can I change the delivery address later?",
    "Do you ship to my country?",
    "Is gift wrapping available?",
)

TONES: Final[tuple[str, ...]] = ("normal", "confusion", "anger", "refund")

TICKET_SUBJECTS: Final[tuple[str, ...]] = (
    "Question about my order",
    "Need help getting started",
    "Unhappy with my purchase",
    "Refund request",
)

TICKETS: Final[tuple[tuple[str, ...], ...]] = (
    (
        "Hi, could you tell me when my parcel will be dispatched? Thanks!",
        "Quick one: can I add a second item to my order before it ships?",
        "Loving it so far. Is there a guide for the next step?",
        "How do I update my delivery address for the next order?",
        "Can I change the refill frequency to every six weeks?",
        "Just checking the care instructions before I wash it.",
    ),
    (
        "I'm a bit lost with the setup, step two doesn't match what I see.",
        "Not sure I'm doing this right, which part should I start with?",
        "I can't find where to log my progress in the app.",
        "The instructions mention a code but I never received one?",
        "I've watched the video twice and I'm still confused about step three.",
        "How do I know whether it's working? Nothing seems different yet.",
    ),
    (
        "This is not what I expected at all. Really disappointed.",
        "Third email and still no answer. This is unacceptable.",
        "The item arrived damaged and nobody is helping me.",
        "Honestly this feels like a waste of time, it simply doesn't work.",
        "I was promised delivery last week. Where is my order?!",
    ),
    (
        "I want my money back please.",
        "How do I return this for a full refund?",
        "Please cancel and refund, it isn't worth the price.",
        "Can I get a refund? I don't think this is for me.",
        "I'd like to send this back and get reimbursed.",
    ),
)

REFUND_REASONS: Final[tuple[str, ...]] = (
    "not as expected",
    "arrived damaged",
    "too expensive for what it is",
    "changed my mind",
    "does not work for me",
    "ordered the wrong size",
)

ONBOARDING_STEPS: Final[tuple[str, ...]] = (
    "account_created",
    "profile_completed",
    "first_setup_done",
    "first_use_logged",
)

KEY_ACTIONS: Final[tuple[str, ...]] = (
    "routine_logged",
    "progress_tracked",
    "product_used",
    "guide_step_finished",
)

SURVEY_QUESTION: Final[str] = "Which of these would help you most at the moment?"
SURVEY_ANSWERS: Final[tuple[str, ...]] = (
    "Getting my problem solved quickly",
    "Seeing evidence that it works",
    "Something that fits into a busy day",
    "Good value without overspending",
    "Reaching the next level",
)
"""One answer per slice, in SLICES order."""

REVIEW_TEXTS: Final[tuple[tuple[str, ...], ...]] = (
    ("Did not work for me, sending it back.", "Poor quality for the money.", "Disappointing."),
    ("Not great, the instructions were unclear.", "Took ages to arrive.", "Meh, expected more."),
    ("It's fine, does the job.", "Okay, nothing special.", "Decent but pricey."),
    ("Really good, would buy again.", "Works well and arrived fast.", "Happy with this."),
    ("Brilliant, already ordered another!", "Exactly what I needed.", "Five stars, love it."),
)
"""Review text by star rating (index 0 is one star)."""

EMAIL_TOPICS: Final[tuple[tuple[str, ...], ...]] = (
    ("express_delivery", "quick_fix_guide", "priority_support"),
    ("customer_results", "reviews_roundup", "progress_tracking"),
    ("five_minute_routine", "setup_checklist", "auto_refill"),
    ("sale", "bundle_deal", "value_guide"),
    ("new_pro_launch", "limited_edition", "expert_tips"),
)

EMAIL_SUBJECTS: Final[tuple[str, ...]] = (
    "This week at the shop",
    "New arrivals you might like",
    "Your monthly tips",
    "A little something for you",
    "What customers are loving right now",
)
