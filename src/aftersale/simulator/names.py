"""Given and family names by language group, for simulated customers (all invented mixes)."""

from __future__ import annotations

from typing import Final

__all__ = ["NAMES", "name_pools"]

# Names are "|"-separated so multi-word family names ("van den Berg") stay whole.
NAMES: Final[dict[str, tuple[str, str]]] = {
    "en": (
        (
            "Olivia|Amelia|Isla|Ava|Mia|Grace|Freya|Chloe|Ruby|Ella|Oliver|George|Harry|"
            "Noah|Jack|Leo|Arthur|Oscar|Liam|Ethan|Siobhán|Zoë|Seán|Aoife|Priya|Mohammed|"
            "Daniel|Sophie|James|Emily"
        ),
        (
            "Smith|Jones|Taylor|Brown|Williams|Wilson|Johnson|Davies|Robinson|Wright|"
            "Thompson|Evans|Walker|White|Roberts|Green|Hall|Wood|Jackson|Clarke|O'Brien|"
            "Murphy|Kelly|Patel|Khan|Nguyen|Martinez|Anderson|Campbell|MacDonald"
        ),
    ),
    "de": (
        (
            "Emma|Hannah|Mia|Lena|Lea|Marie|Sophie|Jonas|Lukas|Leon|Finn|Elias|Paul|Felix|"
            "Maximilian|Jürgen|Björn|Anja|Katrin|Sören"
        ),
        (
            "Müller|Schmidt|Schneider|Fischer|Weber|Meyer|Wagner|Becker|Schulz|Hoffmann|"
            "Koch|Richter|Klein|Wolf|Schröder|Neumann|Schwarz|Zimmermann|Braun|Krüger"
        ),
    ),
    "fr": (
        (
            "Léa|Chloé|Manon|Camille|Inès|Jade|Louise|Hugo|Lucas|Gabriel|Louis|Raphaël|"
            "Jules|Arthur|Théo|Noémie|Élodie|François|Amélie|Benoît"
        ),
        (
            "Martin|Bernard|Dubois|Thomas|Robert|Richard|Petit|Durand|Leroy|Moreau|Simon|"
            "Laurent|Lefèvre|Michel|Garcia|David|Bertrand|Roux|Vincent|Fournier"
        ),
    ),
    "nl": (
        (
            "Emma|Julia|Tess|Sophie|Zoë|Daan|Sem|Lucas|Levi|Finn|Bram|Sanne|Lotte|Thijs|"
            "Joris|Femke|Ruben|Noor|Jesse|Anouk"
        ),
        (
            "de Jong|Jansen|de Vries|van den Berg|van Dijk|Bakker|Janssen|Visser|Smit|"
            "Meijer|de Boer|Mulder|de Groot|Bos|Vos|Peters|Hendriks|van Leeuwen|Dekker|"
            "Brouwer"
        ),
    ),
    "es": (
        (
            "Lucía|Sofía|Martina|María|Paula|Julia|Hugo|Martín|Pablo|Alejandro|Daniel|"
            "Álvaro|Adrián|Nerea|Íñigo|Carmen|Javier|Elena|Sergio|Raúl"
        ),
        (
            "García|Rodríguez|González|Fernández|López|Martínez|Sánchez|Pérez|Gómez|Martín|"
            "Jiménez|Ruiz|Hernández|Díaz|Moreno|Muñoz|Álvarez|Romero|Alonso|Navarro"
        ),
    ),
    "it": (
        (
            "Sofia|Giulia|Aurora|Alice|Ginevra|Emma|Leonardo|Francesco|Alessandro|Lorenzo|"
            "Mattia|Andrea|Gabriele|Niccolò|Chiara|Marco|Federica|Luca|Martina|Davide"
        ),
        (
            "Rossi|Russo|Ferrari|Esposito|Bianchi|Romano|Colombo|Ricci|Marino|Greco|Bruno|"
            "Gallo|Conti|De Luca|Mancini|Costa|Giordano|Rizzo|Lombardi|Moretti"
        ),
    ),
    "sv": (
        (
            "Alice|Maja|Elsa|Astrid|Wilma|Saga|Ebba|Lucas|Liam|William|Elias|Noah|Hugo|"
            "Oscar|Åsa|Björn|Märta|Linnéa|Göran|Ingrid"
        ),
        (
            "Andersson|Johansson|Karlsson|Nilsson|Eriksson|Larsson|Olsson|Persson|Svensson|"
            "Gustafsson|Pettersson|Jonsson|Jansson|Hansson|Bengtsson|Jönsson|Lindberg|"
            "Jakobsson|Magnusson|Lindström"
        ),
    ),
    "ja": (
        (
            "Yui|Aoi|Hina|Sakura|Rin|Mei|Haruto|Sota|Yuto|Riku|Ren|Takumi|Kaito|Yuna|Akari|"
            "Daiki|Emi|Kenji|Naomi|Shota"
        ),
        (
            "Sato|Suzuki|Takahashi|Tanaka|Watanabe|Ito|Yamamoto|Nakamura|Kobayashi|Kato|"
            "Yoshida|Yamada|Sasaki|Yamaguchi|Matsumoto|Inoue|Kimura|Hayashi|Shimizu|Mori"
        ),
    ),
    "in": (
        (
            "Aarav|Vivaan|Aditya|Vihaan|Arjun|Sai|Reyansh|Ananya|Diya|Aadhya|Saanvi|Pari|"
            "Ishaan|Kavya|Rohan|Meera|Nikhil|Pooja|Rahul|Sneha"
        ),
        (
            "Sharma|Verma|Gupta|Singh|Kumar|Patel|Reddy|Iyer|Nair|Rao|Mehta|Joshi|Desai|"
            "Chopra|Malhotra|Bose|Das|Kapoor|Menon|Pillai"
        ),
    ),
}


def name_pools(group: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """First and last names for a language group (``Country.names``)."""
    first, last = NAMES[group]
    return tuple(first.split("|")), tuple(last.split("|"))
