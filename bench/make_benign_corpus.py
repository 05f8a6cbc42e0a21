"""Generate the benign HTTP request corpus used to measure false positives.

A WAF is judged as much on what it lets through as on what it stops, so this corpus imitates
ordinary users of ordinary web applications: browsing with long query strings, searches in many
languages (with innocent words such as "select", "drop" or "O'Brien"), sign-up, login and
checkout forms, JSON and GraphQL APIs, file uploads, rich-text posts, and the unusual but
legitimate headers that browsers, mobile apps and proxies send. It contains no attacks.

Output: JSON Lines in the `airlock-filters inspect` input format, one request a line:

    {"id": "benign/<category>-<n>", "category", "label": "benign", "method", "path",
     "headers": [[name, value], ...], "body": str | null, "body_b64": bool}

`path` is the raw, percent-encoded request target. Bodies that are not valid UTF-8 (uploads
with binary files) are base64 with `body_b64` true. No request carries Content-Length or
Transfer-Encoding: the body is given whole, and a stale length would be a protocol error that
no real client makes.

Every random choice comes from seeded generators (one per category, so changing one category's
count leaves the others unchanged). The same Faker release therefore gives byte-identical
output; other Faker releases may change names and sentences, which is why FAKER_VERSION records
the release that produced the committed file.

Usage:
    python bench/make_benign_corpus.py              # rewrite bench/corpus/benign.jsonl
    python bench/make_benign_corpus.py --check      # exit 1 if the committed file is stale
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import random
import struct
import sys
import unicodedata
import uuid
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from faker import Faker

SEED = 20241126
FAKER_VERSION = "40.63.0"
DEFAULT_OUT = Path(__file__).resolve().parent / "corpus" / "benign.jsonl"

COUNTS: dict[str, int] = {
    "browsing": 360,
    "search": 350,
    "auth-forms": 240,
    "checkout": 170,
    "json-api": 330,
    "file-upload": 120,
    "rich-text": 210,
    "headers": 240,
}

LOCALES = [
    "en_US",
    "en_GB",
    "de_DE",
    "fr_FR",
    "es_ES",
    "it_IT",
    "pt_BR",
    "nl_NL",
    "pl_PL",
    "ja_JP",
    "ru_RU",
    "zh_CN",
    "ar_AA",
]
# Roughly the mix of a European-American e-commerce site with some Asian and Arabic traffic.
LOCALE_WEIGHTS = [30, 6, 12, 9, 7, 6, 6, 3, 3, 5, 5, 5, 3]

ACCEPT_LANGUAGE = {
    "en_US": ["en-US,en;q=0.9", "en-US,en;q=0.5", "en-US"],
    "en_GB": ["en-GB,en-US;q=0.9,en;q=0.8", "en-GB,en;q=0.9"],
    "de_DE": ["de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", "de,en-US;q=0.7,en;q=0.3", "de-DE"],
    "fr_FR": ["fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "fr,fr-FR;q=0.8,en-US;q=0.5,en;q=0.3"],
    "es_ES": ["es-ES,es;q=0.9", "es-ES,es;q=0.9,en;q=0.8,ca;q=0.7"],
    "it_IT": ["it-IT,it;q=0.9,en-US;q=0.8,en;q=0.7", "it"],
    "pt_BR": ["pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7", "pt-BR,pt;q=0.9"],
    "nl_NL": ["nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7", "nl,en-US;q=0.7,en;q=0.3"],
    "pl_PL": ["pl-PL,pl;q=0.9,en-US;q=0.8,en;q=0.7", "pl,en-US;q=0.7,en;q=0.3"],
    "ja_JP": ["ja,en-US;q=0.9,en;q=0.8", "ja-JP,ja;q=0.9"],
    "ru_RU": ["ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru,en;q=0.9,uk;q=0.8"],
    "zh_CN": ["zh-CN,zh;q=0.9,en;q=0.8", "zh-CN,zh-TW;q=0.9,zh;q=0.8,en-US;q=0.7,en;q=0.6"],
    "ar_AA": ["ar,en-US;q=0.9,en;q=0.8", "ar-SA,ar;q=0.9,en-US;q=0.8,en;q=0.7"],
}

LONG_ACCEPT_LANGUAGE = [
    "de-CH,de;q=0.9,fr-CH;q=0.8,fr;q=0.7,it-CH;q=0.6,it;q=0.5,en-US;q=0.4,en;q=0.3,rm;q=0.2",
    "en-US,en;q=0.9,es-419;q=0.8,es;q=0.7,pt-BR;q=0.6,pt;q=0.5,fr;q=0.4,de;q=0.3,ja;q=0.2,"
    "zh-CN;q=0.1",
    "nl-BE,nl;q=0.9,fr-BE;q=0.8,fr;q=0.7,de-BE;q=0.6,de;q=0.5,en-GB;q=0.4,en;q=0.3",
    "ca-ES,ca;q=0.9,es-ES;q=0.8,es;q=0.7,en-GB;q=0.6,en-US;q=0.5,en;q=0.4,fr;q=0.3,it;q=0.2",
    "sv-SE,sv;q=0.9,nb-NO;q=0.8,nb;q=0.7,no;q=0.6,da-DK;q=0.5,da;q=0.4,fi;q=0.3,en;q=0.2",
    "uk-UA,uk;q=0.9,ru-UA;q=0.8,ru;q=0.7,pl-PL;q=0.6,pl;q=0.5,en-US;q=0.4,en;q=0.3",
    "*",
]

NOW = datetime(2024, 11, 26, 9, 30, tzinfo=UTC)

T = TypeVar("T")


@dataclass(frozen=True)
class Client:
    """A browser or app as seen on the wire: its User-Agent and the headers it adds."""

    user_agent: str
    family: str  # chromium, firefox, safari or app
    mobile: bool = False
    ch_ua: str | None = None
    platform: str | None = None


CLIENTS: list[tuple[Client, int]] = [
    (
        Client(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "chromium",
            ch_ua='"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"',
            platform='"Windows"',
        ),
        22,
    ),
    (
        Client(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/130.0.0.0 Safari/537.36",
            "chromium",
            ch_ua='"Chromium";v="130", "Google Chrome";v="130", "Not?A_Brand";v="99"',
            platform='"macOS"',
        ),
        9,
    ),
    (
        Client(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/129.0.0.0 Safari/537.36",
            "chromium",
            ch_ua='"Google Chrome";v="129", "Not=A?Brand";v="8", "Chromium";v="129"',
            platform='"Linux"',
        ),
        3,
    ),
    (
        Client(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "chromium",
            ch_ua='"Microsoft Edge";v="131", "Chromium";v="131", "Not_A Brand";v="24"',
            platform='"Windows"',
        ),
        7,
    ),
    (
        Client(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
            "chromium",
            ch_ua='"Chromium";v="130", "Opera";v="115", "Not?A_Brand";v="99"',
            platform='"Windows"',
        ),
        2,
    ),
    (
        Client(
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36",
            "chromium",
            mobile=True,
            ch_ua='"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"',
            platform='"Android"',
        ),
        14,
    ),
    (
        Client(
            "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like "
            "Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
            "chromium",
            mobile=True,
            ch_ua='"Chromium";v="122", "Not(A:Brand";v="24", "Samsung Internet";v="26.0"',
            platform='"Android"',
        ),
        3,
    ),
    (
        Client(
            "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) "
            "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/130.0.6723.107 Mobile "
            "Safari/537.36 Instagram 355.0.0.37.103 Android (33/13; 450dpi; 1080x2177; samsung; "
            "SM-A536B; a53x; s5e8825; de_DE; 651423155)",
            "chromium",
            mobile=True,
            ch_ua='"Chromium";v="130", "Android WebView";v="130", "Not?A_Brand";v="99"',
            platform='"Android"',
        ),
        2,
    ),
    (
        Client(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "firefox",
        ),
        6,
    ),
    (
        Client(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:132.0) Gecko/20100101 Firefox/132.0",
            "firefox",
        ),
        2,
    ),
    (
        Client(
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "firefox",
        ),
        2,
    ),
    (
        Client(
            "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", "firefox", True
        ),
        1,
    ),
    (
        Client(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/18.1 Safari/605.1.15",
            "safari",
        ),
        6,
    ),
    (
        Client(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
            "like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            "safari",
            True,
        ),
        12,
    ),
    (
        Client(
            "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
            "safari",
            True,
        ),
        2,
    ),
    (
        Client(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
            "like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
            "safari",
            True,
        ),
        2,
    ),
    (
        Client(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
            "like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/485.0.0.42.107;FBBV/651112463;"
            "FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.6.1;FBSS/3;FBID/phone;FBLC/de_DE;FBOP/5;"
            "FBRV/653223914]",
            "safari",
            True,
        ),
        2,
    ),
]

APP_CLIENTS = [
    Client("Northwind/5.12.1 (iPhone; iOS 17.4.1; Scale/3.00)", "app", True),
    Client("Northwind/1203 CFNetwork/1568.100.1 Darwin/24.0.0", "app", True),
    Client("okhttp/4.12.0", "app", True),
    Client("Northwind/5.11.0 (Android 14; Pixel 8; Build/AP2A.240905.003)", "app", True),
    Client("Dalvik/2.1.0 (Linux; U; Android 13; SM-G991B Build/TP1A.220624.014)", "app", True),
    Client(
        "Ledgerly/8.2.0 (com.ledgerly.app; build:2211; iOS 18.1.0) Alamofire/5.9.1", "app", True
    ),
    Client("Ledgerly-Android/8.1.3 (Linux; Android 12; moto g(60))", "app", True),
]

HTML_ACCEPT = {
    "chromium": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    "firefox": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "safari": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "app": "application/json",
}
IMAGE_ACCEPT = {
    "chromium": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
    "firefox": "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5",
    "safari": "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,"
    "image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5",
    "app": "image/*",
}
ACCEPT_ENCODING = {
    "chromium": "gzip, deflate, br, zstd",
    "firefox": "gzip, deflate, br, zstd",
    "safari": "gzip, deflate, br",
    "app": "gzip",
}

# Header order of each browser family; headers not listed keep their insertion order after these.
HEADER_ORDER = {
    "chromium": [
        "Host",
        "Connection",
        "Cache-Control",
        "sec-ch-ua",
        "sec-ch-ua-mobile",
        "sec-ch-ua-platform",
        "Origin",
        "Content-Type",
        "Upgrade-Insecure-Requests",
        "User-Agent",
        "Accept",
        "Sec-Fetch-Site",
        "Sec-Fetch-Mode",
        "Sec-Fetch-User",
        "Sec-Fetch-Dest",
        "Referer",
        "Accept-Encoding",
        "Accept-Language",
        "Cookie",
        "Priority",
    ],
    "firefox": [
        "Host",
        "User-Agent",
        "Accept",
        "Accept-Language",
        "Accept-Encoding",
        "Content-Type",
        "Origin",
        "Connection",
        "Referer",
        "Cookie",
        "Upgrade-Insecure-Requests",
        "Sec-Fetch-Dest",
        "Sec-Fetch-Mode",
        "Sec-Fetch-Site",
        "Sec-Fetch-User",
        "Priority",
    ],
    "safari": [
        "Host",
        "Content-Type",
        "Origin",
        "Accept",
        "Sec-Fetch-Site",
        "Cookie",
        "Sec-Fetch-Dest",
        "Accept-Language",
        "Sec-Fetch-Mode",
        "User-Agent",
        "Referer",
        "Accept-Encoding",
        "Connection",
        "Priority",
    ],
    "app": [
        "Host",
        "Accept",
        "Authorization",
        "Content-Type",
        "User-Agent",
        "Accept-Language",
        "Accept-Encoding",
        "Connection",
    ],
}

SHOP_HOSTS = ["www.northwind-outfitters.com", "shop.example.com", "boutique.example.fr"]
BLOG_HOSTS = ["blog.example.net", "www.kitchen-stories.example", "forum.example.org"]
APP_HOSTS = ["app.ledgerly.io", "api.northwind-outfitters.com", "portal.example.com"]
DOCS_HOSTS = ["docs.ledgerly.io", "help.example.com"]

# Searches that contain words a naive WAF associates with SQL, shells or scripts, and the
# punctuation (apostrophes, quotes, semicolons, ampersands, percent signs) real people type.
INNOCENT_SEARCHES: dict[str, list[str]] = {
    "en": [
        "drop shipping suppliers",
        "union square restaurants",
        "select comfort mattress",
        "how to delete my account",
        "update billing address",
        "order by phone",
        "where is my order",
        "insert cartridge hp 305",
        "drop leaf table",
        "table lamp with usb port",
        "alert sound iphone not working",
        "exec chair leather",
        "cmd key on mac keyboard",
        "system of a down tickets",
        "sleep apnea pillow",
        "rm williams boots",
        "cat food grain free",
        "ls engine swap kit",
        "ping pong table outdoor",
        "script font for wedding invitations",
        "eval form template for employees",
        "from paris to rome by train",
        "O'Brien's pub menu",
        "it's a wonderful life dvd",
        '"red dress" size 10',
        "salt & pepper grinder",
        "50% off winter coats",
        "shoes (kids) size 12",
        "mac & cheese recipe",
        "i <3 ny t-shirt",
        "best pizza 🍕 near me",
        "c++ programming book",
        "100% cotton sheets queen",
        "tom & jerry blu-ray",
        "rock 'n' roll vinyl",
        "what's new in ios 18",
        "1/2 inch drill bit set",
        "usb-c to hdmi adapter 4k@60hz",
        "gluten free bread; no yeast",
        "women's running shoes",
        "men's watches under $200",
        "harry potter and the philosopher's stone",
        "chips & dip bowl",
        "wine glasses (set of 6)",
        "how to cancel an order?",
        "sql for beginners book",
        "javascript the good parts",
        "union jack cushion",
        "select all that apply meaning",
        "drop in bathtub 60 inch",
        "update firmware on router",
        "where to buy ls 6.2 engine",
        "from dusk till dawn poster",
        "system restore windows 11",
        "alert pendant for seniors",
        "cat ears headband",
        "ping golf clubs used",
        "ls swap wiring harness",
        "delete old photos from icloud",
        "sleep timer for baby",
        "eval vs review difference",
        "exec summary template",
        "script supervisor jobs",
        "ben & jerry's cookie dough",
        "d'angelo sandwich shop",
        "it's 5 o'clock somewhere sign",
        "love you <3 card",
        "😀 emoji keyboard",
        "café au lait mug",
        "50/50 raffle tickets",
        "2 + 2 = 4 math poster",
        "#1 best seller books 2024",
        "@home furniture store",
        "what is 10% of 250?",
        "children's books ages 3-5",
    ],
    "de": [
        "Größe 42 Schuhe",
        "Tisch ausziehbar Eiche",
        "Bestellung stornieren",
        "Update für Navi",
        "Kaffee & Kuchen",
        "Rücksendung Etikett drucken",
        "Müller's Backstube",
        "Kinderwagen (gebraucht)",
        'Fahrrad 28" Damen',
        "20% Rabatt Gutschein",
        "Wo ist meine Bestellung?",
        "Konto löschen",
        "Schlafsack -10 Grad",
        "Kissen 40x40 grün",
        "Tischtennisplatte outdoor",
        "Drucker Patrone einsetzen",
    ],
    "fr": [
        "l'été indien",
        "crème brûlée recette",
        "où est ma commande",
        "sélection de vins rouges",
        "table basse en chêne",
        "mise à jour de l'application",
        "chaussures d'été femme",
        "supprimer mon compte",
        "pâtes & sauces",
        "c'est quoi le prix ?",
        "l'Oréal shampooing",
        "jeu de société (famille)",
        "-50% sur les manteaux",
    ],
    "es": [
        "¿dónde está mi pedido?",
        "mesa de comedor extensible",
        "ropa para niño pequeño",
        "eliminar cuenta",
        "zapatillas de running mujer",
        "jamón ibérico 100% bellota",
        "café & té",
        "señal de alerta del coche",
    ],
    "it": [
        "l'oreal shampoo",
        "tavolo allungabile",
        "perché l'ordine è in ritardo?",
        "caffè espresso macinato",
        "borsa da donna (pelle)",
        "aggiornare l'indirizzo",
    ],
    "pt": [
        "promoção de verão",
        "mesa de jantar",
        "atualizar cadastro",
        "cancelar pedido",
        "tênis de corrida",
        "pão de queijo & café",
    ],
    "nl": ["tafel uitschuifbaar", "waar is mijn bestelling", "fiets 28 inch"],
    "pl": ["stół rozkładany", "gdzie jest moje zamówienie?", "usuń konto"],
    "ja": [
        "ワンピース 夏",
        "テーブル 北欧",
        "注文 キャンセル方法",
        "東京 ホテル 安い",
        "猫 おもちゃ",
    ],
    "ru": ["заказать пиццу", "удалить аккаунт", "стол обеденный", "кроссовки женские 38"],
    "zh": ["连衣裙 夏季", "如何删除账户", "餐桌 实木", "手机壳 iPhone 16"],
    "ar": ["طاولة طعام", "حذف الحساب", "عروض الصيف", "أين طلبي؟"],
}

LANG_OF_LOCALE = {
    "en_US": "en",
    "en_GB": "en",
    "de_DE": "de",
    "fr_FR": "fr",
    "es_ES": "es",
    "it_IT": "it",
    "pt_BR": "pt",
    "nl_NL": "nl",
    "pl_PL": "pl",
    "ja_JP": "ja",
    "ru_RU": "ru",
    "zh_CN": "zh",
    "ar_AA": "ar",
}

# Product copy, reviews and messages also use those words innocently.
INNOCENT_PHRASES = [
    "Select from over 40 colours and update your order any time before it ships.",
    "Drop us a line if the table doesn't fit; we'll exchange it for free.",
    "Sleep better: our mattress is 100% latex & certified (OEKO-TEX).",
    "It's the union of comfort and style - order by Friday for delivery on Monday.",
    "Delete the old app first, then insert the new SIM card and restart the system.",
    "Where from? Made in Portugal; cat-friendly fabric.",
    "Great value for money <3 would buy again!",
    "Works with Windows (cmd or PowerShell) and macOS.",
    "Alert: colours may differ slightly from the photos.",
    "The script font looks lovely on the invitations :)",
    "Ping me when it's back in stock, please!",
    "I'd give it 4.5/5 - the drawer sticks a bit; otherwise perfect.",
    "Size chart: S (36-38), M (40-42), L (44-46).",
    "Bought it for my daughter's 5th birthday 🎂 and she loves it!",
    'Fits a 15" laptop & charger; the strap is 120 cm long.',
    "Dishwasher-safe; don't use bleach or abrasive sponges.",
]

COMPANIES_WITH_PUNCTUATION = [
    "Johnson & Johnson",
    "O'Reilly Media",
    "Ben & Jerry's",
    "Procter & Gamble",
    "Marks & Spencer",
    "L'Oréal S.A.",
    "AT&T Inc.",
    "Barnes & Noble",
    "McDonald's",
    "Müller & Söhne GmbH",
    "Dupont-Martin & Fils",
    "Smith, Jones & Partners LLP",
    "Yoshida (Japan) K.K.",
    "Crème de la Crème Ltd.",
]

APOSTROPHE_NAMES = [
    ("Siobhan", "O'Brien"),
    ("Patrick", "O'Connor"),
    ("Mary-Kate", "D'Angelo"),
    ("Jean-François", "L'Hôte"),
    ("Giulia", "D'Amico"),
    ("Liam", "O'Sullivan"),
    ("Ana", "dell'Orto"),
    ("Zoë", "Van der Berg"),
    ("Renée", "d'Arcy"),
]

COUPONS = ["SUMMER-24", "WELCOME10", "BLACKFRIDAY", "FREESHIP", "VIP-2024-ÉTÉ", "XMAS24", "10OFF"]

EMOJI = ["😀", "👍", "❤️", "🎉", "🙏", "😂", "🔥", "✨", "🍕", "☕", "🇩🇪", "👩‍💻"]


class Gen:
    """Random helpers on one seeded RNG and seeded Faker instances."""

    def __init__(self, fakers: dict[str, Faker], seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakers = fakers
        for index, locale in enumerate(LOCALES):
            fakers[locale].seed_instance(seed * 100 + index)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, items: Sequence[T]) -> T:
        return items[self.rng.randrange(len(items))]

    def weighted(self, items: Sequence[T], weights: Sequence[int]) -> T:
        return self.rng.choices(items, weights=weights)[0]

    def locale(self) -> str:
        return self.weighted(LOCALES, LOCALE_WEIGHTS)

    def faker(self, locale: str | None = None) -> Faker:
        return self.fakers[locale or self.locale()]

    def hex(self, n: int) -> str:
        return "".join(self.pick("0123456789abcdef") for _ in range(n))

    def alnum(self, n: int) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.pick(alphabet) for _ in range(n))

    def digits(self, n: int) -> str:
        return "".join(self.pick("0123456789") for _ in range(n))

    def randbytes(self, n: int) -> bytes:
        return self.rng.randbytes(n)

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def b64url(self, raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def b64(self, raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    def when(self, days_back: int = 400, days_ahead: int = 0) -> datetime:
        seconds = self.rng.randint(-days_back * 86400, days_ahead * 86400)
        return NOW + timedelta(seconds=seconds, milliseconds=self.rng.randint(0, 999))

    def iso(self, days_back: int = 400, days_ahead: int = 0) -> str:
        stamp = self.when(days_back, days_ahead)
        if self.chance(0.5):
            return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
        return stamp.isoformat(timespec="seconds")

    def epoch(self) -> int:
        return int(self.when().timestamp())

    def price(self, low: float = 2, high: float = 900) -> str:
        return f"{self.rng.uniform(low, high):.2f}"

    def jwt(self, claims: dict[str, Any] | None = None) -> str:
        header = {
            "alg": self.weighted(["RS256", "ES256", "HS256"], [1, 2, 2]),
            "typ": "JWT",
            "kid": self.hex(16),
        }
        issued = self.epoch()
        payload: dict[str, Any] = {
            "sub": self.uuid4(),
            "iss": self.pick(["https://auth.ledgerly.io/", "https://login.example.com"]),
            "aud": self.pick(["web", "ios", "android", "api://default"]),
            "iat": issued,
            "exp": issued + 3600,
            "scope": "openid profile email",
        }
        payload.update(claims or {})
        signature = self.randbytes(256 if header["alg"] == "RS256" else 64)
        return ".".join(
            [
                self.b64url(json.dumps(header, separators=(",", ":")).encode()),
                self.b64url(json.dumps(payload, separators=(",", ":")).encode()),
                self.b64url(signature),
            ]
        )

    def ipv4(self) -> str:
        return str(self.faker("en_US").ipv4_public())

    def emoji(self) -> str:
        return self.pick(EMOJI)


# --- encoding helpers -------------------------------------------------------------------------


def slugify(text: str) -> str:
    """URL slug the way most CMSs make one: ASCII when possible, else the Unicode words."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = "".join(c if c.isalnum() else " " for c in ascii_text.lower()).split()
    if len(words) >= 2:
        return "-".join(words[:6])
    words = "".join(c if c.isalnum() else " " for c in text.lower()).split()
    return "-".join(words[:6]) or "item"


def path_segment(text: str) -> str:
    return quote(text, safe="")


def query(params: Sequence[tuple[str, str]], plus: bool = True) -> str:
    """Form-style query string; browsers use '+' for spaces in forms and %20 elsewhere."""
    if plus:
        return urlencode(list(params))
    return urlencode(list(params), quote_via=quote)


def with_query(path: str, params: Sequence[tuple[str, str]], plus: bool = True) -> str:
    return f"{path}?{query(params, plus)}" if params else path


def form_body(params: Sequence[tuple[str, str]]) -> str:
    return urlencode(list(params))


def json_body(obj: Any, g: Gen) -> str:
    # Browsers' JSON.stringify is compact; some SDKs pretty-print.
    if g.chance(0.1):
        return json.dumps(obj, ensure_ascii=False, indent=2)
    return json.dumps(obj, ensure_ascii=g.chance(0.3), separators=(",", ":"))


# --- headers ----------------------------------------------------------------------------------


def pick_client(g: Gen) -> Client:
    clients = [client for client, _ in CLIENTS]
    weights = [weight for _, weight in CLIENTS]
    return g.weighted(clients, weights)


def accept_language(g: Gen, locale: str) -> str:
    return g.pick(ACCEPT_LANGUAGE[locale])


def analytics_cookies(g: Gen) -> list[str]:
    ts = g.epoch()
    cookies = [f"_ga=GA1.1.{g.digits(9)}.{ts}"]
    if g.chance(0.6):
        cookies.append(f"_ga_{g.alnum(10).upper()}=GS1.1.{ts}.{g.rng.randint(1, 90)}.1.{ts}.0.0.0")
    if g.chance(0.4):
        cookies.append(f"_gid=GA1.2.{g.digits(10)}.{ts}")
    if g.chance(0.4):
        cookies.append(f"_fbp=fb.1.{ts}{g.digits(3)}.{g.digits(18)}")
    if g.chance(0.3):
        cookies.append(f"_gcl_au=1.1.{g.digits(10)}.{ts}")
    return cookies


def consent_cookies(g: Gen) -> list[str]:
    stamp = g.when(90)
    choice = g.rng.randrange(3)
    if choice == 0:
        # OneTrust keeps a form-encoded record, with a JavaScript Date string, in one cookie.
        date = quote(
            stamp.strftime("%a %b %d %Y %H:%M:%S GMT+0100 (Central European Standard Time)")
        )
        groups = quote("C0001:1,C0002:1,C0003:0,C0004:0", safe="")
        return [
            f"OptanonAlertBoxClosed={stamp.strftime('%Y-%m-%dT%H:%M:%S.000Z')}",
            f"OptanonConsent=isGpcEnabled=0&datestamp={date}&version=202409.1.0&browserGpcFlag=0"
            f"&isIABGlobal=false&hosts=&consentId={g.uuid4()}&interactionCount=1"
            f"&isAnonUser=1&landingPath=NotLandingPage&groups={groups}&AwaitingReconsent=false",
        ]
    if choice == 1:
        # Cookiebot stores a JavaScript object literal with URL-encoded quotes and commas.
        return [
            f"CookieConsent={{stamp:%27{g.b64(g.randbytes(36))}%27%2Cnecessary:true%2C"
            f"preferences:true%2Cstatistics:{str(g.chance(0.5)).lower()}%2Cmarketing:false%2C"
            f"method:%27explicit%27%2Cver:1%2Cutc:{int(stamp.timestamp() * 1000)}%2C"
            f"region:%27de%27}}"
        ]
    return [f"cookieconsent_status={g.pick(['dismiss', 'allow', 'deny'])}"]


def session_cookies(g: Gen) -> list[str]:
    kind = g.rng.randrange(8)
    if kind == 0:
        return [f"sessionid={g.alnum(32).lower()}", f"csrftoken={g.alnum(64)}"]
    if kind == 1:
        return [
            f"PHPSESSID={''.join(g.pick('0123456789abcdefghijklmnopqrstuv') for _ in range(26))}"
        ]
    if kind == 2:
        return [f"JSESSIONID={g.hex(32).upper()}.node{g.rng.randint(0, 3)}"]
    if kind == 3:
        # Laravel: URL-encoded base64 of an encrypted JSON envelope.
        envelope = json.dumps(
            {
                "iv": g.b64(g.randbytes(16)),
                "value": g.b64(g.randbytes(48)),
                "mac": g.hex(64),
                "tag": "",
            },
            separators=(",", ":"),
        )
        token = quote(g.b64(envelope.encode()), safe="")
        return [f"XSRF-TOKEN={token}", f"laravel_session={token[::-1]}"]
    if kind == 4:
        return [
            f"connect.sid=s%3A{g.alnum(32)}.{quote(g.b64(g.randbytes(32)).rstrip('='), safe='')}"
        ]
    if kind == 5:
        # Flask: compressed, signed session ("." prefix marks zlib).
        return [
            f"session=.eJw{g.b64url(g.randbytes(60))}.{g.b64url(g.randbytes(4))}.{g.b64url(g.randbytes(20))}"
        ]
    if kind == 6:
        return [
            f"__Host-next-auth.csrf-token={g.hex(64)}%7C{g.hex(64)}",
            "__Secure-next-auth.session-token="
            + ".".join(g.b64url(g.randbytes(n)) for n in (48, 0, 12, 420, 16)),
        ]
    return [f"access_token={g.jwt()}", f"refresh_token={g.b64url(g.randbytes(48))}"]


def preference_cookies(g: Gen) -> list[str]:
    options = [
        f"lang={g.pick(['de', 'en', 'fr', 'es', 'it', 'pt-BR', 'ja'])}",
        f"currency={g.pick(['EUR', 'USD', 'GBP', 'CHF', 'BRL', 'JPY'])}",
        f"theme={g.pick(['dark', 'light', 'system'])}",
        "recently_viewed="
        + quote(",".join(g.digits(6) for _ in range(g.rng.randint(2, 6))), safe=""),
        "cart=" + quote(json.dumps({"items": g.rng.randint(1, 9), "currency": "EUR"}), safe=""),
        f"ab_test={quote('checkout_v2=b;search_ranking=control', safe='')}",
        f"AWSALB={g.b64(g.randbytes(g.pick([96, 108, 120])))}",
        f"tz={quote(g.pick(['Europe/Berlin', 'America/New_York', 'Asia/Tokyo']), safe='')}",
        "last_search=" + quote(g.pick(INNOCENT_SEARCHES["en"]), safe=""),
    ]
    return g.rng.sample(options, g.rng.randint(1, 4))


def cookie_header(g: Gen, rich: bool = False) -> str | None:
    if not rich and g.chance(0.4):
        return None
    cookies: list[str] = []
    if rich or g.chance(0.5):
        cookies += analytics_cookies(g)
    if rich or g.chance(0.3):
        cookies += consent_cookies(g)
    if rich or g.chance(0.6):
        cookies += session_cookies(g)
    if rich or g.chance(0.35):
        cookies += preference_cookies(g)
    if not cookies:
        cookies = session_cookies(g)
    return "; ".join(cookies)


def order_headers(family: str, headers: dict[str, str]) -> list[list[str]]:
    order = HEADER_ORDER[family]
    known = [[name, headers[name]] for name in order if name in headers]
    others = [[name, value] for name, value in headers.items() if name not in order]
    return known + others


@dataclass
class Fetch:
    """How a request is made, which decides the browser's Accept and Sec-Fetch-* headers."""

    mode: str = "navigate"  # navigate, cors, same-origin, no-cors
    dest: str = "document"  # document, empty, image, style, script, font, video, websocket
    site: str = "same-origin"  # none, same-origin, same-site, cross-site
    accept: str | None = None
    user: bool = True
    origin: bool = False


def browser_headers(
    g: Gen,
    client: Client,
    host: str,
    fetch: Fetch,
    *,
    locale: str,
    referer: str | None = None,
    content_type: str | None = None,
    extra: Sequence[tuple[str, str]] = (),
    cookies: str | None = None,
) -> dict[str, str]:
    """Headers a browser sends for one request, before proxies add theirs."""
    headers: dict[str, str] = {"Host": host, "Connection": "keep-alive"}
    if client.ch_ua:
        headers["sec-ch-ua"] = client.ch_ua
        headers["sec-ch-ua-mobile"] = "?1" if client.mobile else "?0"
        headers["sec-ch-ua-platform"] = client.platform or '"Windows"'
    if fetch.origin:
        headers["Origin"] = f"https://{host}"
    if content_type:
        headers["Content-Type"] = content_type
    if fetch.mode == "navigate":
        headers["Upgrade-Insecure-Requests"] = "1"
        if g.chance(0.1):
            headers["Cache-Control"] = "max-age=0"
    headers["User-Agent"] = client.user_agent
    if fetch.accept:
        headers["Accept"] = fetch.accept
    elif fetch.dest == "document":
        headers["Accept"] = HTML_ACCEPT[client.family]
    elif fetch.dest == "image":
        headers["Accept"] = IMAGE_ACCEPT[client.family]
    else:
        headers["Accept"] = "*/*"
    headers["Sec-Fetch-Site"] = fetch.site
    headers["Sec-Fetch-Mode"] = fetch.mode
    if fetch.mode == "navigate" and fetch.user:
        headers["Sec-Fetch-User"] = "?1"
    headers["Sec-Fetch-Dest"] = fetch.dest
    if referer:
        headers["Referer"] = referer
    headers["Accept-Encoding"] = ACCEPT_ENCODING[client.family]
    headers["Accept-Language"] = accept_language(g, locale)
    cookie = cookies if cookies is not None else cookie_header(g)
    if cookie:
        headers["Cookie"] = cookie
    if client.family == "firefox" and fetch.mode == "navigate":
        headers["Priority"] = "u=0, i"
    elif client.family == "chromium" and g.chance(0.5):
        headers["Priority"] = "u=0, i" if fetch.mode == "navigate" else "u=1, i"
    for name, value in extra:
        headers[name] = value
    return headers


def app_headers(
    g: Gen,
    client: Client,
    host: str,
    *,
    locale: str,
    content_type: str | None = None,
    extra: Sequence[tuple[str, str]] = (),
) -> dict[str, str]:
    headers: dict[str, str] = {"Host": host, "Accept": "application/json"}
    headers["Authorization"] = f"Bearer {g.jwt()}"
    if content_type:
        headers["Content-Type"] = content_type
    headers["User-Agent"] = client.user_agent
    headers["Accept-Language"] = accept_language(g, locale).split(",")[0]
    headers["Accept-Encoding"] = ACCEPT_ENCODING["app"]
    headers["X-App-Version"] = g.pick(["5.12.1", "5.11.0", "8.2.0", "8.1.3"])
    headers["X-Device-Id"] = g.uuid4().upper() if "iOS" in client.user_agent else g.hex(16)
    if g.chance(0.5):
        headers["X-Timezone"] = g.pick(["Europe/Berlin", "America/Sao_Paulo", "Asia/Tokyo"])
    for name, value in extra:
        headers[name] = value
    return headers


def proxy_headers(g: Gen) -> list[tuple[str, str]]:
    """What load balancers, CDNs and tracing add on the way to the WAF."""
    added: list[tuple[str, str]] = []
    if g.chance(0.4):
        hops = [g.ipv4() for _ in range(g.rng.randint(1, 3))]
        if g.chance(0.3):
            hops.append(
                f"10.{g.rng.randint(0, 255)}.{g.rng.randint(0, 255)}.{g.rng.randint(1, 254)}"
            )
        added.append(("X-Forwarded-For", ", ".join(hops)))
        added.append(("X-Forwarded-Proto", "https"))
    if g.chance(0.25):
        added.append(("X-Request-Id", g.uuid4()))
    if g.chance(0.12):
        added.append(("traceparent", f"00-{g.hex(32)}-{g.hex(16)}-0{g.pick('01')}"))
    if g.chance(0.05):
        added.append(("X-Amzn-Trace-Id", f"Root=1-{g.hex(8)}-{g.hex(24)}"))
    return added


def finish_headers(g: Gen, family: str, headers: dict[str, str]) -> list[list[str]]:
    ordered = order_headers(family, headers)
    present = {name.lower() for name in headers}
    ordered += [[name, value] for name, value in proxy_headers(g) if name.lower() not in present]
    # HTTP/2 clients, and proxies such as Envoy, send lowercase header names and no keep-alive.
    if g.chance(0.3):
        ordered = [
            [name.lower(), value]
            for name, value in ordered
            if not (name == "Connection" and value == "keep-alive")
        ]
    return ordered


# --- requests ---------------------------------------------------------------------------------


def make_request(
    method: str, path: str, headers: list[list[str]], body: str | bytes | None = None
) -> dict[str, Any]:
    body_text: str | None
    is_b64 = False
    if isinstance(body, bytes):
        try:
            body_text = body.decode("utf-8")
        except UnicodeDecodeError:
            body_text = base64.b64encode(body).decode()
            is_b64 = True
    else:
        body_text = body
    return {
        "method": method,
        "path": path,
        "headers": headers,
        "body": body_text,
        "body_b64": is_b64,
    }


def site_url(host: str, path: str) -> str:
    return f"https://{host}{path}"


def internal_referer(g: Gen, host: str) -> str:
    options = [
        "/",
        with_query("/search", [("q", g.pick(INNOCENT_SEARCHES["en"])), ("page", "2")]),
        with_query("/c/women/dresses", [("sort", "price"), ("order", "asc")]),
        f"/p/{slugify(g.faker('en_US').catch_phrase())}-{g.digits(6)}",
        "/account/orders",
        "/cart",
        with_query("/blog", [("tag", g.pick(["recipes", "travel", "diy"]))]),
    ]
    return site_url(host, g.pick(options))


def external_referer(g: Gen) -> str:
    return g.pick(
        [
            "https://www.google.com/",
            "https://www.google.de/",
            "https://www.bing.com/",
            "https://duckduckgo.com/",
            "https://t.co/" + g.alnum(10),
            "https://l.facebook.com/",
            "https://www.instagram.com/",
            "https://news.ycombinator.com/item?id=" + g.digits(8),
            "https://www.reddit.com/r/BuyItForLife/comments/" + g.alnum(6).lower() + "/",
            "https://mail.google.com/",
            "android-app://com.google.android.gm/",
        ]
    )


def browser_request(
    g: Gen,
    method: str,
    path: str,
    *,
    host: str,
    locale: str,
    fetch: Fetch,
    referer: str | None = None,
    content_type: str | None = None,
    body: str | bytes | None = None,
    extra: Sequence[tuple[str, str]] = (),
    client: Client | None = None,
    cookies: str | None = None,
) -> dict[str, Any]:
    client = client or pick_client(g)
    headers = browser_headers(
        g,
        client,
        host,
        fetch,
        locale=locale,
        referer=referer,
        content_type=content_type,
        extra=extra,
        cookies=cookies,
    )
    return make_request(method, path, finish_headers(g, client.family, headers), body)


def app_request(
    g: Gen,
    method: str,
    path: str,
    *,
    host: str,
    locale: str,
    content_type: str | None = None,
    body: str | bytes | None = None,
    extra: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    client = g.pick(APP_CLIENTS)
    headers = app_headers(g, client, host, locale=locale, content_type=content_type, extra=extra)
    return make_request(method, path, finish_headers(g, "app", headers), body)


def form_submit(
    g: Gen,
    path: str,
    params: Sequence[tuple[str, str]],
    *,
    host: str,
    locale: str,
    referer_path: str,
) -> dict[str, Any]:
    return browser_request(
        g,
        "POST",
        path,
        host=host,
        locale=locale,
        fetch=Fetch(origin=True),
        referer=site_url(host, referer_path),
        content_type="application/x-www-form-urlencoded",
        body=form_body(params),
    )


def xhr_json(
    g: Gen,
    method: str,
    path: str,
    payload: Any,
    *,
    host: str,
    locale: str,
    extra: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    content_type = g.pick(["application/json", "application/json; charset=utf-8"])
    headers = list(extra)
    if g.chance(0.5):
        headers.append(("X-CSRF-Token", g.b64url(g.randbytes(32))))
    if g.chance(0.3):
        headers.append(("X-Requested-With", "XMLHttpRequest"))
    return browser_request(
        g,
        method,
        path,
        host=host,
        locale=locale,
        fetch=Fetch(
            mode="cors", dest="empty", accept="application/json, text/plain, */*", origin=True
        ),
        referer=internal_referer(g, host),
        content_type=content_type,
        body=json_body(payload, g),
        extra=headers,
    )


# --- browsing ---------------------------------------------------------------------------------

DEPARTMENTS = {
    "women": ["dresses", "shoes", "jackets-coats", "jeans", "bags"],
    "men": ["shirts", "sneakers", "suits", "watches", "knitwear"],
    "home": ["dining-tables", "lamps", "bedding", "rugs", "kitchen"],
    "kids": ["toys", "school-bags", "baby-clothes"],
    "outdoor": ["tents", "sleeping-bags", "bikes", "garden-furniture"],
}
COLORS = ["black", "white", "navy", "red", "olive", "beige", "grey", "pink", "multi"]
SIZES = ["XS", "S", "M", "L", "XL", "36", "38", "40", "42", "44", "10", "10.5", "11"]
BRANDS = ["nike", "adidas", "levi's", "h&m", "tommy-hilfiger", "the-north-face", "ikea", "muji"]
SORTS = [
    ("price", "asc"),
    ("price", "desc"),
    ("newest", "desc"),
    ("rating", "desc"),
    ("name", "asc"),
    ("popularity", "desc"),
]
UTM_CAMPAIGNS = [
    "black_friday_2024",
    "spring-sale",
    "newsletter_w47",
    "retargeting|carousel|de",
    "brand+search",
    "summer_2024_(teaser)",
]


def utm_params(g: Gen) -> list[tuple[str, str]]:
    params = [
        ("utm_source", g.pick(["newsletter", "google", "facebook", "instagram", "tiktok", "bing"])),
        ("utm_medium", g.pick(["email", "cpc", "social", "paid_social", "referral"])),
        ("utm_campaign", g.pick(UTM_CAMPAIGNS)),
    ]
    if g.chance(0.5):
        params.append(("utm_content", g.pick(["hero-banner", "cta_button", "footer link", "v2"])))
    if g.chance(0.3):
        params.append(("utm_term", g.pick(INNOCENT_SEARCHES["en"])))
    return params


def tracking_params(g: Gen) -> list[tuple[str, str]]:
    choice = g.rng.randrange(6)
    if choice == 0:
        return [("gclid", g.b64url(g.randbytes(60)))]
    if choice == 1:
        return [("fbclid", "IwAR" + g.b64url(g.randbytes(45)))]
    if choice == 2:
        return [("msclkid", g.hex(32))]
    if choice == 3:
        return [
            (
                "_gl",
                f"1*{g.alnum(6).lower()}*_ga*{g.b64(g.randbytes(18))}*_ga_{g.alnum(10)}*"
                f"{g.b64(g.randbytes(30))}",
            )
        ]
    if choice == 4:
        return [("mc_cid", g.hex(10)), ("mc_eid", g.hex(10))]
    return [
        ("ref", g.pick(["partner-42", "affiliate_7781", "blog", "app"])),
        ("aff_id", g.digits(5)),
    ]


def browse_listing(g: Gen, host: str) -> tuple[str, list[tuple[str, str]]]:
    dept = g.pick(list(DEPARTMENTS))
    path = f"/c/{dept}/{g.pick(DEPARTMENTS[dept])}"
    params: list[tuple[str, str]] = []
    if g.chance(0.6):
        sort, order = g.pick(SORTS)
        if g.chance(0.5):
            params += [("sort", sort), ("order", order)]
        else:
            params.append(("sort", f"{sort}_{order}" if g.chance(0.5) else f"-{sort}"))
    if g.chance(0.6):
        params.append(("page", str(g.rng.randint(2, 40))))
    if g.chance(0.3):
        params.append(("per_page", g.pick(["24", "48", "96"])))
    if g.chance(0.5):
        for color in g.rng.sample(COLORS, g.rng.randint(1, 3)):
            params.append(("color", color))
    if g.chance(0.4):
        key = g.pick(["brand[]", "brand", "filter[brand]"])
        params += [(key, brand) for brand in g.rng.sample(BRANDS, g.rng.randint(1, 3))]
    if g.chance(0.3):
        params.append(("size", g.pick(SIZES)))
    if g.chance(0.3):
        low = g.rng.randint(0, 100)
        if g.chance(0.5):
            params += [("price_min", str(low)), ("price_max", str(low + g.rng.randint(20, 500)))]
        else:
            params.append(("price", f"{low}-{low + g.rng.randint(20, 500)}"))
    if g.chance(0.2):
        params.append(("in_stock", g.pick(["1", "true", "on"])))
    if g.chance(0.25):
        params += utm_params(g)
    return path, params


def browse_product(g: Gen, host: str) -> tuple[str, list[tuple[str, str]]]:
    locale = g.locale()
    name = " ".join(g.faker(locale).words(g.rng.randint(2, 4)))
    path = g.pick(["/p/", "/products/", "/item/"]) + path_segment(slugify(name))
    if g.chance(0.5):
        path += f"-{g.digits(6)}"
    params: list[tuple[str, str]] = []
    if g.chance(0.4):
        params.append(("variant", g.digits(11)))
    if g.chance(0.3):
        params += [("color", g.pick(COLORS)), ("size", g.pick(SIZES))]
    if g.chance(0.3):
        params += tracking_params(g)
    if g.chance(0.2):
        params += utm_params(g)
    if g.chance(0.1):
        params.append(("srsltid", g.b64url(g.randbytes(48))))
    return path, params


def browse_article(g: Gen, host: str) -> tuple[str, list[tuple[str, str]]]:
    locale = g.locale()
    fake = g.faker(locale)
    stamp = g.when(1500)
    title = str(fake.sentence(nb_words=g.rng.randint(3, 8)))
    prefix = "" if locale.startswith("en") else f"/{locale[:2]}"
    path = f"{prefix}/blog/{stamp:%Y/%m}/{path_segment(slugify(title))}/"
    params: list[tuple[str, str]] = []
    if g.chance(0.3):
        params += utm_params(g)
    if g.chance(0.2):
        params.append(("amp", "1") if g.chance(0.5) else ("replytocom", g.digits(5)))
    if g.chance(0.2):
        params.append(("share", g.pick(["twitter", "whatsapp", "email", "copy-link"])))
    return path, params


def browse_account(g: Gen, host: str) -> tuple[str, list[tuple[str, str]]]:
    choice = g.rng.randrange(5)
    if choice == 0:
        status = g.pick(["all", "shipped", "delivered", "cancelled", "returned"])
        return "/account/orders", [("status", status), ("page", str(g.rng.randint(1, 5)))]
    if choice == 1:
        return f"/account/orders/NW-{g.when().year}-{g.digits(6)}", []
    if choice == 2:
        return "/account/wishlist", [("sort", "added"), ("order", g.pick(["asc", "desc"]))]
    if choice == 3:
        return "/account/settings", [("tab", g.pick(["profile", "security", "notifications"]))]
    year = str(g.rng.randint(2021, 2024))
    return "/account/invoices", [("year", year), ("format", g.pick(["pdf", "html"]))]


def browse_redirect(g: Gen, host: str) -> tuple[str, list[tuple[str, str]]]:
    targets = [
        "/account/orders",
        "/checkout/shipping",
        "/account/settings?tab=security",
        "/c/women/dresses?sort=price&order=desc",
        "/wishlist",
        # A URL fragment is never sent by itself, but it arrives percent-encoded inside
        # "return to" parameters.
        "/docs/install#linux",
        "/help/returns#refund-timeline",
    ]
    choice = g.rng.randrange(6)
    if choice == 0:
        return "/login", [(g.pick(["next", "return_to", "redirect"]), g.pick(targets))]
    if choice == 1:
        return "/logout", [("redirect_uri", f"https://{host}/")]
    if choice == 2:
        return "/oauth/authorize", [
            ("response_type", "code"),
            ("client_id", g.alnum(24)),
            ("redirect_uri", f"https://{g.pick(APP_HOSTS)}/auth/callback"),
            ("scope", "openid profile email offline_access"),
            ("state", g.b64url(g.randbytes(24))),
            ("code_challenge", g.b64url(g.randbytes(32))),
            ("code_challenge_method", "S256"),
            ("nonce", g.hex(16)),
        ]
    if choice == 3:
        return "/auth/callback", [
            ("code", g.b64url(g.randbytes(30))),
            ("state", g.b64url(g.randbytes(24))),
            ("session_state", f"{g.uuid4()}.{g.b64url(g.randbytes(8))}"),
        ]
    if choice == 4:
        partner = g.pick(
            ["https://partner.example.com/offer?ref=nw", "https://www.dhl.de/tracking"]
        )
        return "/out", [("url", partner), ("sig", g.hex(20))]
    return "/lang", [("locale", g.pick(["de-DE", "fr-FR", "en-GB"])), ("next", g.pick(targets))]


def browse_misc(g: Gen, host: str) -> tuple[str, list[tuple[str, str]]]:
    choice = g.rng.randrange(6)
    if choice == 0:
        lat = g.rng.uniform(35, 60)
        lng = g.rng.uniform(-10, 30)
        return "/stores", [("lat", f"{lat:.4f}"), ("lng", f"{lng:.4f}"), ("radius", "25km")]
    if choice == 1:
        start = g.when(10, 60)
        end = start + timedelta(days=g.rng.randint(1, 30))
        return "/events", [
            ("from", start.date().isoformat()),
            ("to", end.date().isoformat()),
            ("tz", g.pick(["Europe/Berlin", "America/New_York", "Asia/Tokyo"])),
        ]
    if choice == 2:
        cursor = g.b64(json.dumps({"id": g.rng.randint(1000, 99999)}).encode())
        return "/feed", [("cursor", cursor), ("limit", "20")]
    if choice == 3:
        return "/", []
    if choice == 4:
        section = g.pick(["hotels", "restaurants", "jobs"])
        city = slugify(str(g.faker().city()))
        return (
            f"/{section}/{path_segment(city)}",
            [],
        )
    return "/compare", [("ids", ",".join(g.digits(5) for _ in range(g.rng.randint(2, 4))))]


def static_asset(g: Gen, client: Client, host: str, locale: str) -> dict[str, Any]:
    choice = g.rng.randrange(4)
    referer = internal_referer(g, host)
    if choice == 0:
        path = f"/static/js/main.{g.hex(8)}.js"
        fetch = Fetch(mode="no-cors", dest="script", site="same-origin")
    elif choice == 1:
        path = f"/static/css/app.{g.hex(8)}.css"
        fetch = Fetch(mode="no-cors", dest="style", site="same-origin", accept="text/css,*/*;q=0.1")
    elif choice == 2:
        path = with_query(
            f"/images/products/{g.digits(6)}-{g.pick(['800x800', '1200x1600'])}.webp",
            [("v", g.digits(10))],
        )
        fetch = Fetch(mode="no-cors", dest="image", site="same-site")
    else:
        path = with_query("/fonts/Inter-roman.var.woff2", [("v", "3.19")])
        fetch = Fetch(mode="cors", dest="font", site="same-origin", origin=True)
    return browser_request(
        g, "GET", path, host=host, locale=locale, fetch=fetch, referer=referer, client=client
    )


def gen_browsing(g: Gen) -> dict[str, Any]:
    host = g.pick(SHOP_HOSTS + BLOG_HOSTS[:2])
    locale = g.locale()
    client = pick_client(g)
    if g.chance(0.1):
        return static_asset(g, client, host, locale)
    builder: Callable[[Gen, str], tuple[str, list[tuple[str, str]]]] = g.weighted(
        [
            browse_listing,
            browse_product,
            browse_article,
            browse_account,
            browse_redirect,
            browse_misc,
        ],
        [30, 25, 15, 10, 10, 10],
    )
    path, params = builder(g, host)
    url = with_query(path, params, plus=g.chance(0.6))
    if g.chance(0.35):
        referer, site = external_referer(g), "cross-site"
    elif g.chance(0.8):
        referer, site = internal_referer(g, host), "same-origin"
    else:
        referer, site = None, "none"
    method = "HEAD" if g.chance(0.02) else "GET"
    return browser_request(
        g,
        method,
        url,
        host=host,
        locale=locale,
        fetch=Fetch(site=site, user=site != "none"),
        referer=referer,
        client=client,
    )


# --- search -----------------------------------------------------------------------------------


def search_text(g: Gen, locale: str) -> str:
    lang = LANG_OF_LOCALE[locale]
    fake = g.faker(locale)
    choice = g.rng.randrange(10)
    if choice < 4:
        return g.pick(INNOCENT_SEARCHES[lang] if g.chance(0.7) else INNOCENT_SEARCHES["en"])
    if choice < 6:
        return " ".join(fake.words(g.rng.randint(1, 4)))
    if choice == 6:
        sentence = str(fake.sentence(nb_words=g.rng.randint(3, 9))).rstrip(".。")
        return sentence + ("?" if g.chance(0.3) else "")
    if choice == 7:
        return f"{g.pick(['hotels in', 'weather', 'restaurants near', 'flights to'])} {fake.city()}"
    if choice == 8:
        first, last = (
            g.pick(APOSTROPHE_NAMES) if g.chance(0.5) else (fake.first_name(), fake.last_name())
        )
        return f"{first} {last}"
    base = g.pick(INNOCENT_SEARCHES["en"])
    return g.pick([f"{base} {g.emoji()}", f'"{base}"', f"{base} -used", f"{base} (2024)"])


def gen_search(g: Gen) -> dict[str, Any]:
    locale = g.locale()
    text = search_text(g, locale)
    host = g.pick(SHOP_HOSTS + DOCS_HOSTS + BLOG_HOSTS)
    client = pick_client(g)
    choice = g.rng.randrange(10)
    if choice < 3:
        # Autocomplete fires while typing, so it often sees a cut-off word.
        typed = text[: g.rng.randint(2, len(text))] if len(text) > 2 else text
        path = with_query(
            "/api/search/suggest", [("term", typed), ("limit", "8")], plus=g.chance(0.3)
        )
        fetch = Fetch(mode="cors", dest="empty", accept="application/json")
        return browser_request(
            g,
            "GET",
            path,
            host=host,
            locale=locale,
            fetch=fetch,
            referer=internal_referer(g, host),
            client=client,
        )
    key = g.pick(["q", "q", "query", "search", "k", "s", "keyword"])
    params: list[tuple[str, str]] = [(key, text)]
    if g.chance(0.3):
        params.append(("page", str(g.rng.randint(2, 12))))
    if g.chance(0.3):
        sort, order = g.pick(SORTS)
        params += [("sort", sort), ("order", order)]
    if g.chance(0.25):
        params.append(("category", g.pick(["all", "home", "women", "books", "electronics"])))
    if g.chance(0.15):
        params.append(("lang", LANG_OF_LOCALE[locale]))
    if g.chance(0.1):
        params += utm_params(g)
    path = g.pick(["/search", "/search", "/s", "/catalogsearch/result/", "/docs/search"])
    url = with_query(path, params, plus=g.chance(0.7))
    return browser_request(
        g,
        "GET",
        url,
        host=host,
        locale=locale,
        fetch=Fetch(site="same-origin"),
        referer=internal_referer(g, host),
        client=client,
    )


# --- sign-up and login forms ------------------------------------------------------------------


def password(g: Gen) -> str:
    choice = g.rng.randrange(5)
    if choice == 0:
        words = g.faker("en_US").words(4)
        return g.pick(["-", ".", " ", "_"]).join(w.capitalize() for w in words) + g.digits(2)
    if choice == 1:
        symbols = "!@#$%^&*()-_=+[]{};:,.?/~|"
        chars = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789" + symbols
        return "".join(g.pick(chars) for _ in range(g.rng.randint(12, 24)))
    if choice == 2:
        return g.pick(
            ["Tr0ub4dor&3", "P@ssw0rd#2024!", "Summer2024!", "Straße-Köln-1987", "été2024*"]
        )
    if choice == 3:
        return f"{g.faker().first_name()}'s-{g.digits(4)}{g.pick('!?#%&')}"
    return g.alnum(20)


def person(g: Gen, locale: str) -> tuple[str, str]:
    if g.chance(0.15):
        return g.pick(APOSTROPHE_NAMES)
    fake = g.faker(locale)
    return str(fake.first_name()), str(fake.last_name())


def email_for(g: Gen, first: str, last: str, locale: str) -> str:
    local = slugify(f"{first} {last}").replace("-", g.pick([".", "_", ""]))
    if not local.isascii() or len(local) < 3:
        return str(g.faker(locale).free_email())
    suffix = g.pick(["", "", g.digits(2), "+shop"])
    domain = g.pick(["gmail.com", "outlook.com", "web.de", "icloud.com", "yahoo.fr"])
    return f"{local}{suffix}@{domain}"


def address_fields(g: Gen, locale: str, prefix: str = "") -> list[tuple[str, str]]:
    fake = g.faker(locale)
    fields = [
        (f"{prefix}street", str(fake.street_address())),
        (f"{prefix}postcode", str(fake.postcode())),
        (f"{prefix}city", str(fake.city())),
        (f"{prefix}country", locale[-2:] if locale != "ar_AA" else "AE"),
    ]
    if g.chance(0.3):
        fields.insert(
            1,
            (
                f"{prefix}address2",
                g.pick(["Apt. 4B", "c/o Müller", "2nd floor; ring twice", "Bldg #3"]),
            ),
        )
    return fields


def csrf_field(g: Gen) -> tuple[str, str]:
    name = g.pick(["csrf_token", "_token", "csrfmiddlewaretoken", "authenticity_token"])
    return name, g.b64(g.randbytes(32))


def gen_auth_form(g: Gen) -> dict[str, Any]:
    locale = g.locale()
    host = g.pick(SHOP_HOSTS + APP_HOSTS)
    first, last = person(g, locale)
    email = email_for(g, first, last, locale)
    choice = g.rng.randrange(10)
    if choice < 4:
        # Not faker's date_of_birth: it counts back from today, so the corpus would change
        # with the calendar.
        age_days = g.faker(locale).random.randint(18 * 365, 85 * 365)
        birth = (NOW - timedelta(days=age_days)).date()
        params = [
            csrf_field(g),
            ("first_name", first),
            ("last_name", last),
            ("email", email),
            ("password", (pw := password(g))),
            ("password_confirmation", pw),
        ]
        if g.chance(0.5):
            params.append(("birthdate", birth.isoformat()))
        else:
            params += [
                ("dob_day", str(birth.day)),
                ("dob_month", str(birth.month)),
                ("dob_year", str(birth.year)),
            ]
        if g.chance(0.5):
            params.append(("phone", str(g.faker(locale).phone_number())))
        if g.chance(0.4):
            company = (
                g.pick(COMPANIES_WITH_PUNCTUATION)
                if g.chance(0.6)
                else str(g.faker(locale).company())
            )
            params.append(("company", company))
        if g.chance(0.4):
            params += address_fields(g, locale)
        params += (
            [("newsletter", "on"), ("terms", "1")] if g.chance(0.5) else [("terms", "accepted")]
        )
        if g.chance(0.2):
            params.append(("g-recaptcha-response", g.b64url(g.randbytes(g.rng.randint(300, 500)))))
        return form_submit(
            g,
            "/account/register",
            params,
            host=host,
            locale=locale,
            referer_path="/account/register",
        )
    if choice < 7:
        params = [
            csrf_field(g),
            (g.pick(["email", "username", "login"]), email),
            ("password", password(g)),
        ]
        if g.chance(0.5):
            params.append(("remember_me", g.pick(["on", "1", "true"])))
        target = g.pick(["/account/orders", "/checkout", "/dashboard?view=week", "/"])
        if g.chance(0.5):
            params.append(("next", target))
        return form_submit(
            g,
            "/login",
            params,
            host=host,
            locale=locale,
            referer_path=with_query("/login", [("next", target)]),
        )
    if choice == 7:
        params = [csrf_field(g), ("email", email)]
        return form_submit(
            g, "/password/reset", params, host=host, locale=locale, referer_path="/password/forgot"
        )
    if choice == 8:
        new_pw = password(g)
        params = [
            csrf_field(g),
            ("current_password", password(g)),
            ("new_password", new_pw),
            ("new_password_confirm", new_pw),
        ]
        return form_submit(
            g,
            "/account/security/password",
            params,
            host=host,
            locale=locale,
            referer_path="/account/settings?tab=security",
        )
    fake = g.faker(locale)
    params = [
        csrf_field(g),
        ("display_name", f"{first} {last[0]}."),
        ("phone", str(fake.phone_number())),
        ("job_title", str(fake.job())),
        ("company", g.pick(COMPANIES_WITH_PUNCTUATION)),
        ("website", f"https://www.{slugify(last)}.example"),
        ("about", g.pick(INNOCENT_PHRASES)),
    ]
    params += address_fields(g, locale)
    return form_submit(
        g, "/account/profile", params, host=host, locale=locale, referer_path="/account/profile"
    )


# --- checkout ---------------------------------------------------------------------------------


def card_token(g: Gen) -> str:
    return g.pick(["tok_", "pm_", "card_", "src_"]) + g.alnum(24)


def gift_message(g: Gen, locale: str) -> str:
    name = g.faker(locale).first_name()
    return g.pick(
        [
            f"Happy birthday, {name}! Love you <3",
            f"Joyeux anniversaire {name} ! Bisous, l'équipe",
            f"Alles Gute zum Geburtstag, {name} 🎉",
            f"For {name} & family - enjoy the new table!",
            "Merry Xmas :) from Tom; open on the 25th!",
            f"{name}, it's not much but I hope you like it (50% chocolate, 50% love).",
        ]
    )


def gen_checkout(g: Gen) -> dict[str, Any]:
    locale = g.locale()
    host = g.pick(SHOP_HOSTS)
    first, last = person(g, locale)
    currency = g.pick(["EUR", "USD", "GBP", "CHF", "BRL", "JPY"])
    choice = g.rng.randrange(9)
    if choice == 0:
        params = [csrf_field(g), ("first_name", first), ("last_name", last)]
        params += address_fields(g, locale, prefix="shipping_")
        params += [("phone", str(g.faker(locale).phone_number())), ("billing_same", "1")]
        if g.chance(0.3):
            params.append(("company", g.pick(COMPANIES_WITH_PUNCTUATION)))
        return form_submit(
            g,
            "/checkout/address",
            params,
            host=host,
            locale=locale,
            referer_path="/checkout/address",
        )
    if choice == 1:
        delivery = (NOW + timedelta(days=g.rng.randint(2, 14))).date().isoformat()
        instructions = g.pick(
            [
                "Leave at back door; dog is friendly",
                "Ring twice (bell is broken)",
                "Bitte beim Nachbarn abgeben, Hausnr. 12a",
                "Deixar na portaria & avisar por SMS",
                "3rd floor - no elevator, sorry!",
                "",
            ]
        )
        params = [csrf_field(g), ("shipping_method", g.pick(["standard", "express", "pickup"]))]
        params += [("delivery_date", delivery), ("instructions", instructions)]
        return form_submit(
            g,
            "/checkout/shipping",
            params,
            host=host,
            locale=locale,
            referer_path="/checkout/shipping",
        )
    if choice == 2:
        params = [
            csrf_field(g),
            ("payment_method", g.pick(["card", "card", "paypal", "sepa_debit", "klarna"])),
            ("card_token", card_token(g)),
            ("amount", g.price()),
            ("currency", currency),
            ("save_card", g.pick(["on", "0"])),
            ("cardholder", f"{first} {last}".upper()),
        ]
        return form_submit(
            g,
            "/checkout/payment",
            params,
            host=host,
            locale=locale,
            referer_path="/checkout/payment",
        )
    if choice == 3:
        params = [csrf_field(g), ("coupon", g.pick(COUPONS))]
        return form_submit(
            g, "/cart/coupon", params, host=host, locale=locale, referer_path="/cart"
        )
    if choice == 4:
        params = [csrf_field(g), ("gift_wrap", "1"), ("gift_message", gift_message(g, locale))]
        return form_submit(
            g, "/checkout/gift", params, host=host, locale=locale, referer_path="/checkout/review"
        )
    if choice == 5:
        # 3-D Secure: the card issuer's page posts the authentication result back to the shop.
        cres = g.b64url(
            json.dumps(
                {
                    "threeDSServerTransID": g.uuid4(),
                    "acsTransID": g.uuid4(),
                    "messageType": "CRes",
                    "messageVersion": "2.2.0",
                    "transStatus": "Y",
                }
            ).encode()
        )
        return browser_request(
            g,
            "POST",
            "/checkout/3ds/return",
            host=host,
            locale=locale,
            fetch=Fetch(site="cross-site", origin=False),
            referer="https://acs.bank.example/challenge",
            content_type="application/x-www-form-urlencoded",
            body=form_body([("cres", cres), ("threeDSSessionData", g.b64url(g.randbytes(24)))]),
            extra=[("Origin", "https://acs.bank.example")],
        )
    if choice == 6:
        order = f"NW-{NOW.year}-{g.digits(6)}"
        params = [("order", order), ("session_id", "cs_live_" + g.alnum(58))]
        if g.chance(0.5):
            params = [("token", "EC-" + g.alnum(17).upper()), ("PayerID", g.alnum(13).upper())]
        path = with_query(g.pick(["/checkout/confirmation", "/checkout/paypal/return"]), params)
        return browser_request(
            g,
            "GET",
            path,
            host=host,
            locale=locale,
            fetch=Fetch(site="cross-site"),
            referer=g.pick(["https://www.paypal.com/", "https://checkout.stripe.com/"]),
        )
    if choice == 7:
        items = [
            {
                "sku": f"{g.alnum(3).upper()}-{g.digits(5)}",
                "quantity": g.rng.randint(1, 4),
                "unit_price": {"amount": g.price(), "currency": currency},
            }
            for _ in range(g.rng.randint(1, 5))
        ]
        payload = {
            "cart_id": g.uuid4(),
            "items": items,
            "coupon": g.pick(COUPONS) if g.chance(0.4) else None,
            "payment": {"method": "card", "token": card_token(g), "save": g.chance(0.5)},
            "shipping": {
                "method": g.pick(["standard", "express"]),
                "address": dict(address_fields(g, locale)),
            },
            "gift_message": gift_message(g, locale) if g.chance(0.3) else None,
            "accepted_terms_at": g.iso(1),
        }
        return xhr_json(
            g,
            "POST",
            "/api/checkout/sessions",
            payload,
            host=host,
            locale=locale,
            extra=[("Idempotency-Key", g.uuid4())],
        )
    payload = {"code": g.pick(COUPONS), "cart_total": g.price(), "currency": currency}
    return xhr_json(g, "POST", "/api/cart/apply-coupon", payload, host=host, locale=locale)


# --- JSON and GraphQL APIs --------------------------------------------------------------------


def markdown_text(g: Gen, locale: str) -> str:
    fake = g.faker(locale)
    lines = [f"## {fake.sentence(nb_words=4).rstrip('.')}", "", str(fake.paragraph(nb_sentences=2))]
    lines += [
        "",
        f"- **{fake.word()}**: {fake.sentence(nb_words=6)}",
        f"- _{fake.word()}_ ({g.price()} €)",
    ]
    if g.chance(0.5):
        lines += [
            "",
            f"See [the docs](https://{g.pick(DOCS_HOSTS)}/guides/{slugify(fake.sentence())}) "
            "or run `npm install --save ledgerly-sdk`.",
        ]
    if g.chance(0.3):
        lines += ["", "```yaml", "replicas: 3", "image: ledgerly/api:1.4.2", "```"]
    if g.chance(0.3):
        lines += ["", f"> {g.pick(INNOCENT_PHRASES)}"]
    return "\n".join(lines)


def api_order(g: Gen, locale: str) -> dict[str, Any]:
    fake = g.faker(locale)
    first, last = person(g, locale)
    lines = [
        {
            "product_id": g.rng.randint(1000, 999999),
            "name": " ".join(fake.words(3)).title(),
            "quantity": g.rng.randint(1, 5),
            "price": float(g.price()),
            "options": {"color": g.pick(COLORS), "size": g.pick(SIZES)},
        }
        for _ in range(g.rng.randint(1, 4))
    ]
    return {
        "customer": {
            "id": g.uuid4(),
            "name": f"{first} {last}",
            "email": email_for(g, first, last, locale),
            "phone": str(fake.phone_number()),
        },
        "line_items": lines,
        "shipping_address": dict(address_fields(g, locale)),
        "notes": g.pick(INNOCENT_PHRASES) if g.chance(0.5) else "",
        "placed_at": g.iso(),
        "metadata": {"channel": g.pick(["web", "ios", "android"]), "ab": ["checkout_v2"]},
    }


def api_user_patch(g: Gen, locale: str) -> dict[str, Any]:
    fake = g.faker(locale)
    return {
        "display_name": str(fake.name()),
        "bio": str(fake.paragraph(nb_sentences=2)) + (" " + g.emoji() if g.chance(0.4) else ""),
        "preferences": {
            "newsletter": g.chance(0.5),
            "language": accept_language(g, locale).split(",")[0],
            "notifications": {"email": True, "push": g.chance(0.5), "sms": False},
        },
        "avatar_url": f"https://cdn.example.com/avatars/{g.uuid4()}.jpg",
        "updated_at": g.iso(2),
    }


def api_task(g: Gen, locale: str) -> dict[str, Any]:
    fake = g.faker(locale)
    return {
        "title": str(fake.sentence(nb_words=6)).rstrip("."),
        "description": markdown_text(g, locale),
        "status": g.pick(["todo", "in_progress", "review", "done"]),
        "priority": g.rng.randint(1, 4),
        "due_at": g.iso(0, 60),
        "tags": g.rng.sample(["frontend", "billing", "ux", "bug", "q4", "customer-request"], 2),
        "assignees": [g.uuid4() for _ in range(g.rng.randint(0, 3))],
        "estimate_hours": round(g.rng.uniform(0.5, 16), 1),
    }


def api_search(g: Gen, locale: str) -> dict[str, Any]:
    sort, order = g.pick(SORTS)
    return {
        "query": search_text(g, locale),
        "filters": {
            "status": g.rng.sample(["open", "pending", "closed", "archived"], 2),
            "created_at": {"from": g.iso(300)[:10], "to": g.iso(0)[:10]},
            "price": {"min": g.rng.randint(0, 50), "max": g.rng.randint(60, 500)},
        },
        # ORM-style query shapes are common in admin front ends.
        "where": {"owner_id": g.rng.randint(1, 90000), "deleted": False},
        "order": [[sort, order.upper()]],
        "sort": [{"field": sort, "order": order}],
        "page": {"size": 25, "number": g.rng.randint(1, 9)},
    }


def api_events(g: Gen, locale: str) -> dict[str, Any]:
    host = g.pick(SHOP_HOSTS)
    events = []
    for _ in range(g.rng.randint(1, 5)):
        events.append(
            {
                "event": g.pick(
                    ["page_view", "add_to_cart", "scroll", "click", "search", "select_item"]
                ),
                "ts": int(g.when(1).timestamp() * 1000),
                "url": internal_referer(g, host),
                "referrer": external_referer(g),
                "props": {"item_id": g.digits(6), "value": float(g.price()), "currency": "EUR"},
            }
        )
    return {
        "client_id": f"{g.digits(10)}.{g.epoch()}",
        "session_id": g.uuid4(),
        "screen": g.pick(["1920x1080", "390x844", "1440x900", "412x915"]),
        "events": events,
    }


def api_avatar(g: Gen, locale: str) -> dict[str, Any]:
    png = make_png(g, 8, 8)
    return {
        "filename": g.pick(["avatar.png", "me.png", "profil été.png"]),
        "content_type": "image/png",
        "data": g.b64(png) if g.chance(0.6) else "data:image/png;base64," + g.b64(png),
        "checksum": g.hex(64),
    }


def api_message(g: Gen, locale: str) -> dict[str, Any]:
    fake = g.faker(locale)
    text = g.pick(
        [
            str(fake.sentence(nb_words=10)),
            "Hi! Is the table still available? I could pick it up on Saturday :)",
            "Thanks!! 👍 see you at 5pm; I'll bring cash.",
            "Can you select the blue one & drop it at the front desk?",
            "Where's my order? It says \"delivered\" but I don't see it...",
            g.pick(INNOCENT_PHRASES),
        ]
    )
    return {
        "conversation_id": g.uuid4(),
        "client_message_id": g.uuid4(),
        "text": text,
        "attachments": []
        if g.chance(0.7)
        else [{"type": "image", "url": f"https://cdn.example.com/u/{g.hex(12)}.jpg"}],
        "sent_at": g.iso(1),
    }


def api_login(g: Gen, locale: str) -> dict[str, Any]:
    first, last = person(g, locale)
    return {
        "email": email_for(g, first, last, locale),
        "password": password(g),
        "device": {
            "name": g.pick(["iPhone von Anna", "Pixel 8", "Ana's MacBook Pro"]),
            "os": "ios",
        },
    }


GRAPHQL_QUERIES = [
    (
        "GetProduct",
        "query GetProduct($id: ID!) {\n  product(id: $id) {\n    id\n    name\n"
        "    price { amount currency }\n"
        "    variants(first: 10) { edges { node { id sku inStock } } }\n  }\n}",
    ),
    (
        "SearchProducts",
        "query SearchProducts($query: String!, $first: Int = 24, $after: String) {\n"
        "  search(query: $query, first: $first, after: $after, sortKey: PRICE, reverse: true) {\n"
        "    pageInfo { hasNextPage endCursor }\n    nodes { id title handle }\n  }\n}",
    ),
    (
        "UpdateCart",
        "mutation UpdateCart($cartId: ID!, $lines: [CartLineUpdateInput!]!) {\n"
        "  cartLinesUpdate(cartId: $cartId, lines: $lines) {\n    cart { id totalQuantity }\n"
        "    userErrors { field message }\n  }\n}",
    ),
    (
        "Viewer",
        "query Viewer { viewer { id login name avatarUrl(size: 64) } }",
    ),
]


def api_graphql(g: Gen, locale: str) -> dict[str, Any]:
    name, document = g.pick(GRAPHQL_QUERIES)
    variables: dict[str, Any] = {
        "id": f"gid://shop/Product/{g.digits(9)}",
        "query": search_text(g, locale),
        "after": g.b64(g.randbytes(12)) if g.chance(0.4) else None,
        "cartId": f"gid://shop/Cart/{g.alnum(26)}",
        "lines": [{"id": f"gid://shop/CartLine/{g.uuid4()}", "quantity": g.rng.randint(0, 3)}],
    }
    return {"operationName": name, "query": document, "variables": variables}


API_ENDPOINTS: list[tuple[str, Callable[[Gen, str], str], Callable[[Gen, str], dict[str, Any]]]] = [
    ("POST", lambda g, _: "/api/v1/orders", api_order),
    ("PATCH", lambda g, _: f"/api/v2/users/{g.uuid4()}", api_user_patch),
    (
        "PUT",
        lambda g, _: f"/api/v1/projects/{g.rng.randint(1, 900)}/tasks/{g.rng.randint(1, 99999)}",
        api_task,
    ),
    ("POST", lambda g, _: "/api/v1/tasks", api_task),
    ("POST", lambda g, _: "/api/v1/search", api_search),
    ("POST", lambda g, _: "/api/collect", api_events),
    ("PUT", lambda g, _: "/api/v1/me/avatar", api_avatar),
    ("POST", lambda g, _: f"/api/v1/conversations/{g.rng.randint(1, 99999)}/messages", api_message),
    ("POST", lambda g, _: "/api/v1/auth/login", api_login),
    ("POST", lambda g, _: "/graphql", api_graphql),
]


def gen_json_api(g: Gen) -> dict[str, Any]:
    locale = g.locale()
    host = g.pick(APP_HOSTS)
    choice = g.rng.randrange(10)
    if choice == 0:
        # Reads and deletes carry no body, only the bearer token and query.
        resource = g.pick(["orders", "invoices", "tasks", "customers"])
        params = [
            ("status", g.pick(["open", "shipped", "paid"])),
            ("sort", "-created_at"),
            ("limit", "25"),
        ]
        if g.chance(0.5):
            params.append(("created_after", g.iso(90)))
        if g.chance(0.3):
            params.append(("fields", "id,total,status,customer.name"))
        path = with_query(f"/api/v1/{resource}", params, plus=False)
        return app_request(g, "GET", path, host=host, locale=locale)
    if choice == 1:
        path = f"/api/v1/cart/items/{g.rng.randint(1, 999999)}"
        return app_request(g, "DELETE", path, host=host, locale=locale)
    if choice == 2:
        payload = {"refresh_token": g.jwt({"typ": "refresh"}), "grant_type": "refresh_token"}
        return app_request(
            g,
            "POST",
            "/api/v1/auth/refresh",
            host=host,
            locale=locale,
            content_type="application/json",
            body=json_body(payload, g),
        )
    method, make_path, make_payload = g.pick(API_ENDPOINTS)
    path = make_path(g, locale)
    payload = make_payload(g, locale)
    if g.chance(0.4):
        extra: list[tuple[str, str]] = []
        if method in ("PUT", "PATCH") and g.chance(0.5):
            extra.append(("If-Match", f'"{g.hex(16)}"'))
        return app_request(
            g,
            method,
            path,
            host=host,
            locale=locale,
            content_type="application/json; charset=utf-8",
            body=json_body(payload, g),
            extra=extra,
        )
    extra = [("Authorization", f"Bearer {g.jwt()}")] if g.chance(0.6) else []
    return xhr_json(g, method, path, payload, host=host, locale=locale, extra=extra)


# --- file uploads -----------------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def stored_zlib(raw: bytes) -> bytes:
    # Stored (uncompressed) deflate by hand: zlib's compressed bytes vary between zlib builds
    # (zlib-ng), and the corpus must be byte-identical everywhere.
    out = bytearray(b"\x78\x01")
    for start in range(0, max(len(raw), 1), 65535):
        block = raw[start : start + 65535]
        final = 1 if start + 65535 >= len(raw) else 0
        out += bytes([final]) + struct.pack("<HH", len(block), len(block) ^ 0xFFFF) + block
    out += struct.pack(">I", zlib.adler32(raw))
    return bytes(out)


def make_png(g: Gen, width: int, height: int) -> bytes:
    """A valid RGB PNG with random pixels."""
    rows = b"".join(b"\x00" + g.randbytes(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", stored_zlib(rows))
        + png_chunk(b"IEND", b"")
    )


def make_jpeg(g: Gen) -> bytes:
    """JPEG-like bytes: real JFIF and EXIF-free header markers around random scan data."""
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00"
    dqt = b"\xff\xdb\x00\x43\x00" + g.randbytes(64)
    sof = (
        b"\xff\xc0\x00\x11\x08"
        + struct.pack(">HH", 480, 640)
        + b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    )
    sos = b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00"
    scan = g.randbytes(g.rng.randint(150, 600)).replace(b"\xff", b"\xff\x00")
    return b"\xff\xd8" + app0 + dqt + sof + sos + scan + b"\xff\xd9"


def make_pdf(g: Gen, text: str) -> bytes:
    """PDF-like bytes: a real one-page skeleton whose content stream is random binary."""
    stream = g.randbytes(g.rng.randint(150, 500))
    parts = [
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
        b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n",
        b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>\n"
        b"endobj\n",
        b"4 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream),
        stream,
        b"\nendstream\nendobj\n",
        b"5 0 obj\n<< /Title (" + text.encode("ascii", "ignore")[:60] + b") >>\nendobj\n",
        b"trailer\n<< /Root 1 0 R /Info 5 0 R >>\n%%EOF\n",
    ]
    return b"".join(parts)


def make_docx(g: Gen, text: str) -> bytes:
    """A minimal .docx: a real ZIP with the OOXML parts Word needs."""
    files = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.wordprocessingml.document.main+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        "word/document.xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body><w:p><w:r><w:t>{escape_xml(text)}</w:t></w:r></w:p></w:body></w:document>",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, content in files.items():
            # A fixed timestamp, or every run would produce different bytes.
            info = zipfile.ZipInfo(name, date_time=(2024, 5, 12, 14, 32, 10))
            archive.writestr(info, content)
    return buffer.getvalue()


def escape_xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def make_csv(g: Gen, locale: str) -> bytes:
    fake = g.faker(locale)
    delimiter = (
        ";" if locale in ("de_DE", "fr_FR", "it_IT", "es_ES", "pt_BR", "nl_NL", "pl_PL") else ","
    )
    rows = [delimiter.join(["name", "email", "city", "amount", "date", "note"])]
    for _ in range(g.rng.randint(3, 15)):
        note = g.pick(["", "VIP", "paid; invoice #12", "O'Neil & Co", "n/a", '"rush" order'])
        if delimiter in note or '"' in note:
            note = '"' + note.replace('"', '""') + '"'
        amount = g.price(1, 5000)
        if delimiter == ";":
            amount = amount.replace(".", ",")
        rows.append(
            delimiter.join(
                [
                    str(fake.name()),
                    str(fake.free_email()),
                    str(fake.city()),
                    amount,
                    g.iso()[:10],
                    note,
                ]
            )
        )
    return ("\r\n".join(rows) + "\r\n").encode("utf-8")


def make_txt(g: Gen, locale: str) -> bytes:
    fake = g.faker(locale)
    text = "\n\n".join(str(fake.paragraph(nb_sentences=3)) for _ in range(g.rng.randint(1, 3)))
    return (text + "\n").encode("utf-8")


UPLOAD_NAMES = {
    "png": [
        "screenshot.png",
        "Screenshot 2024-11-02 at 10.14.55.png",
        "logo final (2).png",
        "写真.png",
    ],
    "jpg": [
        "IMG_2048.JPG",
        "Photo 2024-05-12 at 14.32.11.jpeg",
        "vacances été 2024.jpg",
        "paella_valència.jpg",
    ],
    "pdf": [
        "Résumé Jürgen Müller.pdf",
        "facture n°123.pdf",
        "Invoice #4471.pdf",
        "contrato_aluguel.pdf",
    ],
    "csv": ["contacts.csv", "export (1).csv", "Kundenliste März.csv", "prices_2024-Q3.csv"],
    "txt": ["notes.txt", "read me.txt", "commentaires d'équipe.txt"],
    "docx": ["Cover letter.docx", "Lebenslauf_Schröder.docx", "proposta comercial v2.docx"],
}
UPLOAD_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "pdf": "application/pdf",
    "csv": "text/csv",
    "txt": "text/plain",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def make_file(g: Gen, kind: str, locale: str) -> bytes:
    text = str(g.faker(locale).sentence())
    if kind == "png":
        return make_png(g, g.rng.randint(4, 12), g.rng.randint(4, 12))
    if kind == "jpg":
        return make_jpeg(g)
    if kind == "pdf":
        return make_pdf(g, text)
    if kind == "csv":
        return make_csv(g, locale)
    if kind == "txt":
        return make_txt(g, locale)
    return make_docx(g, text)


def multipart_boundary(g: Gen, family: str) -> str:
    if family == "firefox":
        return "----geckoformboundary" + g.hex(32)
    if family == "app":
        return g.pick([g.uuid4(), "alamofire.boundary." + g.hex(16)])
    return "----WebKitFormBoundary" + g.alnum(16)


def multipart_body(
    boundary: str,
    fields: Sequence[tuple[str, str]],
    files: Sequence[tuple[str, str, str, bytes]],
) -> bytes:
    """multipart/form-data as browsers write it: CRLF line ends, UTF-8 file names with '"'
    escaped as %22 (the WHATWG rule)."""
    out = bytearray()
    for name, value in fields:
        out += f"--{boundary}\r\n".encode()
        out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode("utf-8") + b"\r\n"
    for name, filename, content_type, data in files:
        safe_name = filename.replace('"', "%22")
        out += f"--{boundary}\r\n".encode()
        out += f'Content-Disposition: form-data; name="{name}"; filename="{safe_name}"\r\n'.encode()
        out += f"Content-Type: {content_type}\r\n\r\n".encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def gen_upload(g: Gen) -> dict[str, Any]:
    locale = g.locale()
    fake = g.faker(locale)
    host = g.pick(APP_HOSTS + SHOP_HOSTS[:1] + BLOG_HOSTS[2:])
    purpose = g.rng.randrange(5)
    if purpose == 0:
        path = "/account/avatar"
        kinds = [g.pick(["png", "jpg"])]
        fields = [csrf_field(g)]
    elif purpose == 1:
        path = "/careers/apply"
        first, last = person(g, locale)
        kinds = [g.pick(["pdf", "docx"])] + (["pdf"] if g.chance(0.3) else [])
        fields = [
            ("first_name", first),
            ("last_name", last),
            ("email", email_for(g, first, last, locale)),
            ("cover_letter", str(fake.paragraph(nb_sentences=3))),
        ]
    elif purpose == 2:
        path = "/api/v1/imports/contacts"
        kinds = ["csv"]
        fields = [("delimiter", "auto"), ("has_header", "true"), ("encoding", "utf-8")]
    elif purpose == 3:
        path = f"/support/tickets/{g.rng.randint(10000, 99999)}/attachments"
        kinds = g.rng.sample(["png", "jpg", "txt", "pdf"], g.rng.randint(1, 2))
        fields = [("message", g.pick(INNOCENT_PHRASES)), ("visibility", "public")]
    else:
        path = "/listings/new"
        kinds = ["jpg"] * g.rng.randint(1, 3)
        fields = [
            ("title", " ".join(fake.words(3)).title()),
            ("price", g.price(5, 800)),
            ("description", str(fake.paragraph(nb_sentences=2))),
            ("condition", g.pick(["new", "like_new", "used"])),
        ]
    files = [
        (
            "files[]" if len(kinds) > 1 else g.pick(["file", "attachment", "upload"]),
            g.pick(UPLOAD_NAMES[kind]),
            UPLOAD_TYPES[kind],
            make_file(g, kind, locale),
        )
        for kind in kinds
    ]
    use_app = path.startswith("/api/") and g.chance(0.5)
    client = g.pick(APP_CLIENTS) if use_app else pick_client(g)
    boundary = multipart_boundary(g, client.family)
    body = multipart_body(boundary, fields, files)
    content_type = f"multipart/form-data; boundary={boundary}"
    if use_app:
        headers = app_headers(g, client, host, locale=locale, content_type=content_type)
        return make_request("POST", path, finish_headers(g, "app", headers), body)
    return browser_request(
        g,
        "POST",
        path,
        host=host,
        locale=locale,
        fetch=Fetch(origin=True),
        referer=site_url(host, path),
        content_type=content_type,
        body=body,
        client=client,
    )


# --- rich text --------------------------------------------------------------------------------


def html_paragraph(g: Gen, locale: str) -> str:
    fake = g.faker(locale)
    words = str(fake.sentence(nb_words=g.rng.randint(6, 14))).split(" ")
    style = g.rng.randrange(9)
    if len(words) > 3:
        at = g.rng.randrange(1, len(words) - 1)
        if style == 0:
            words[at] = f"<b>{words[at]}</b>"
        elif style == 1:
            words[at] = f"<strong>{words[at]}</strong>"
        elif style == 2:
            words[at] = f"<em>{words[at]}</em>"
        elif style == 3:
            url = f"https://{g.pick(BLOG_HOSTS + DOCS_HOSTS)}/{slugify(fake.sentence())}"
            words[at] = f'<a href="{url}">{words[at]}</a>'
        elif style == 4:
            color = g.pick(["red", "#1a73e8", "rgb(34, 139, 34)"])
            words[at] = f'<span style="color:{color}">{words[at]}</span>'
        elif style == 5:
            snippet = g.pick(["npm run build", "git pull", "Ctrl+Shift+P", "pip install -U", "F5"])
            words[at] = f"<code>{snippet}</code>"
        elif style == 6:
            url = f"https://{g.pick(SHOP_HOSTS)}/p/{g.digits(6)}"
            words[at] = f'<a href="{url}" target="_blank" rel="noopener noreferrer">{words[at]}</a>'
    text = " ".join(words)
    if g.chance(0.2):
        text += f" {g.emoji()}"
    align = ' style="text-align:center"' if g.chance(0.1) else ""
    return f"<p{align}>{text}</p>"


def html_block(g: Gen, locale: str) -> str:
    fake = g.faker(locale)
    choice = g.rng.randrange(7)
    if choice == 0:
        items = "".join(f"<li>{fake.sentence(nb_words=5)}</li>" for _ in range(g.rng.randint(2, 5)))
        tag = g.pick(["ul", "ol"])
        return f"<{tag}>{items}</{tag}>"
    if choice == 1:
        src = f"https://cdn.example.com/uploads/{NOW.year}/{g.digits(2)}/{g.hex(10)}.jpg"
        alt = g.pick(["", str(fake.sentence(nb_words=4)).rstrip(".")])
        width = g.pick(["", ' width="600" height="400"', ' loading="lazy"'])
        caption = fake.sentence(nb_words=5)
        image = f'<img src="{src}" alt="{alt}"{width}>'
        return f"<figure>{image}<figcaption>{caption}</figcaption></figure>"
    if choice == 2:
        return f"<blockquote>{g.pick(INNOCENT_PHRASES)}</blockquote>"
    if choice == 3:
        return f"<h2>{str(fake.sentence(nb_words=4)).rstrip('.')}</h2>"
    if choice == 4:
        closing = g.pick(["Cheers,", "Best,", "LG", "Bisous"])
        return f"<p>{fake.sentence()}<br>{fake.sentence()}<br/>{closing} {fake.first_name()}</p>"
    if choice == 5:
        return "<hr>"
    return html_paragraph(g, locale)


def html_post(g: Gen, locale: str) -> str:
    blocks = [html_paragraph(g, locale)]
    blocks += [html_block(g, locale) for _ in range(g.rng.randint(0, 4))]
    return "\n".join(blocks) if g.chance(0.5) else "".join(blocks)


def gen_rich_text(g: Gen) -> dict[str, Any]:
    locale = g.locale()
    fake = g.faker(locale)
    first, last = person(g, locale)
    host = g.pick(BLOG_HOSTS)
    content = html_post(g, locale)
    choice = g.rng.randrange(5)
    if choice == 0:
        # WordPress comment form.
        params = [
            ("comment", content),
            ("author", f"{first} {last}"),
            ("email", email_for(g, first, last, locale)),
            ("url", g.pick(["", f"https://{slugify(last)}.example.com/"])),
            ("submit", "Post Comment"),
            ("comment_post_ID", str(g.rng.randint(10, 9000))),
            ("comment_parent", g.pick(["0", str(g.rng.randint(100, 9999))])),
        ]
        return form_submit(
            g,
            "/wp-comments-post.php",
            params,
            host=host,
            locale=locale,
            referer_path=f"/{NOW.year}/{slugify(str(fake.sentence()))}/",
        )
    if choice == 1:
        payload: dict[str, Any] = {
            "title": str(fake.sentence(nb_words=6)).rstrip("."),
            "content": content,
            "excerpt": str(fake.sentence()),
            "status": g.pick(["draft", "publish", "pending"]),
            "categories": [g.rng.randint(1, 40)],
            "tags": [g.rng.randint(1, 300) for _ in range(g.rng.randint(0, 4))],
        }
        return xhr_json(
            g,
            "POST",
            "/wp-json/wp/v2/posts",
            payload,
            host=host,
            locale=locale,
            extra=[("X-WP-Nonce", g.hex(10))],
        )
    if choice == 2:
        params = [
            csrf_field(g),
            ("subject", str(fake.sentence(nb_words=5))),
            ("message", content),
            ("notify", "1"),
        ]
        topic = g.rng.randint(100, 99999)
        return form_submit(
            g,
            f"/forum/t/{topic}/reply",
            params,
            host=host,
            locale=locale,
            referer_path=f"/forum/t/{topic}?page={g.rng.randint(1, 9)}",
        )
    if choice == 3:
        payload = {
            "document_id": g.uuid4(),
            "revision": g.rng.randint(1, 400),
            "body_html": content,
            "word_count": len(content.split()),
            "autosave": True,
            "saved_at": g.iso(1),
        }
        return xhr_json(
            g,
            "PATCH",
            f"/api/cms/documents/{g.uuid4()}",
            payload,
            host=g.pick(APP_HOSTS),
            locale=locale,
        )
    payload = {
        "product_id": g.rng.randint(1000, 999999),
        "rating": g.rng.randint(1, 5),
        "title": g.pick(
            ["Love it <3", "Does what it says", "Not bad, not great", "5/5 would buy again!"]
        ),
        "body": content,
        "author": f"{first} {last[0]}.",
        "recommend": g.chance(0.8),
    }
    return xhr_json(g, "POST", "/api/reviews", payload, host=g.pick(SHOP_HOSTS), locale=locale)


# --- unusual but legitimate headers -----------------------------------------------------------


def http_date(g: Gen) -> str:
    return format_datetime(g.when(200), usegmt=True)


def etag(g: Gen) -> str:
    return g.pick([f'W/"{g.hex(8)}-{g.hex(4)}"', f'"{g.hex(40)}"', f'"{g.digits(10)}-{g.hex(6)}"'])


def header_extras(g: Gen, client: Client, host: str) -> list[tuple[str, str]]:
    """A few of the rarer headers seen from real clients, SDKs and corporate proxies."""
    pool = [
        ("X-Forwarded-For", ", ".join(g.ipv4() for _ in range(g.rng.randint(3, 6)))),
        ("Forwarded", f'for={g.ipv4()};proto=https;by={g.ipv4()}, for="[2001:db8:cafe::17]:4711"'),
        (
            "Via",
            g.pick(
                [
                    "1.1 varnish (Varnish/7.4)",
                    "1.1 proxy.corp.example:8080 (squid/5.7)",
                    "2 cdn-edge",
                ]
            ),
        ),
        ("X-Real-IP", g.ipv4()),
        ("X-Request-Id", g.uuid4()),
        ("X-Correlation-ID", g.hex(32)),
        ("traceparent", f"00-{g.hex(32)}-{g.hex(16)}-01"),
        ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,dd=s:1;o:rum;t.dm:-0"),
        ("X-B3-TraceId", g.hex(32)),
        ("X-Amzn-Trace-Id", f"Root=1-{g.hex(8)}-{g.hex(24)};Parent={g.hex(16)};Sampled=1"),
        ("X-Requested-With", "XMLHttpRequest"),
        ("X-CSRF-Token", g.b64(g.randbytes(32))),
        ("X-XSRF-TOKEN", quote(g.b64(g.randbytes(120)), safe="")),
        ("X-Client-Data", g.b64(g.randbytes(g.rng.randint(20, 60)))),
        ("X-Timezone", g.pick(["Europe/Berlin", "America/Argentina/Buenos_Aires", "Asia/Kolkata"])),
        ("X-Screen", g.pick(["1920x1080@1", "390x844@3", "2560x1440@2"])),
        ("X-Feature-Flags", "new-checkout,dark-mode;search-v2=on"),
        ("X-Api-Version", g.pick(["2024-06-20", "v3", "2"])),
        ("DNT", "1"),
        ("Sec-GPC", "1"),
        ("Save-Data", "on"),
        ("Pragma", "no-cache"),
        ("Cache-Control", g.pick(["no-cache", "max-age=0", "no-store, max-age=0"])),
        ("Prefer", g.pick(["return=minimal", "respond-async, wait=10", "return=representation"])),
        ("Accept-Charset", "utf-8, iso-8859-1;q=0.5"),
        ("Authorization", f"Basic {g.b64(f'{g.faker().user_name()}:{password(g)}'.encode())}"),
        (
            "Authorization",
            f"Bearer {g.jwt({'roles': ['user', 'beta-tester'], 'tenant': g.uuid4()})}",
        ),
        ("X-Api-Key", g.alnum(40)),
        (
            "sec-ch-ua-full-version-list",
            '"Google Chrome";v="131.0.6778.86", "Chromium";v="131.0.6778.86", '
            '"Not_A Brand";v="24.0.0.0"',
        ),
        ("sec-ch-ua-arch", '"arm"' if client.mobile else '"x86"'),
        ("sec-ch-ua-model", '"Pixel 8"' if client.mobile else '""'),
        ("sec-ch-prefers-color-scheme", "dark"),
        ("Device-Memory", g.pick(["4", "8"])),
        ("Downlink", "10"),
        ("ECT", "4g"),
        ("Viewport-Width", g.pick(["1280", "390"])),
        ("Sec-Purpose", "prefetch;prerender"),
        ("Purpose", "prefetch"),
        ("X-Moz", "prefetch"),
        ("Service-Worker-Navigation-Preload", "true"),
        ("Early-Data", "1"),
        ("CDN-Loop", "cloudflare; loops=1"),
        ("X-Forwarded-Host", host),
        ("X-Forwarded-Port", "443"),
    ]
    if client.family != "chromium":
        # Client hints and speculation-rule headers come from Chromium browsers only.
        chromium_only = ("sec-", "device-memory", "downlink", "ect", "viewport-width")
        pool = [(name, value) for name, value in pool if not name.lower().startswith(chromium_only)]
    chosen = g.rng.sample(pool, g.rng.randint(2, 7))
    # One Authorization header at most.
    seen: set[str] = set()
    result = []
    for name, value in chosen:
        if name.lower() not in seen:
            seen.add(name.lower())
            result.append((name, value))
    return result


def gen_headers(g: Gen) -> dict[str, Any]:
    locale = g.locale()
    host = g.pick(SHOP_HOSTS + APP_HOSTS + DOCS_HOSTS)
    client = pick_client(g)
    choice = g.rng.randrange(8)
    if choice == 0:
        # CORS preflight from a single-page app on another subdomain.
        requested = g.rng.sample(
            [
                "authorization",
                "content-type",
                "x-request-id",
                "traceparent",
                "x-csrf-token",
                "x-api-version",
                "sentry-trace",
                "baggage",
                "x-client-version",
            ],
            g.rng.randint(1, 5),
        )
        extra = [
            (
                "Origin",
                f"https://{g.pick(['app', 'www', 'admin', 'checkout'])}.{host.split('.', 1)[1]}",
            ),
            ("Access-Control-Request-Method", g.pick(["POST", "PUT", "PATCH", "DELETE", "GET"])),
            ("Access-Control-Request-Headers", ",".join(sorted(requested))),
        ]
        path = g.pick(["/api/v1/orders", f"/api/v2/users/{g.uuid4()}", "/graphql", "/api/collect"])
        return browser_request(
            g,
            "OPTIONS",
            path,
            host=host,
            locale=locale,
            fetch=Fetch(mode="cors", dest="empty", site="same-site", accept="*/*"),
            referer=internal_referer(g, host),
            extra=extra,
            client=client,
            cookies="",
        )
    if choice == 1:
        extra = [("If-None-Match", etag(g))]
        if g.chance(0.5):
            extra.append(("If-Modified-Since", http_date(g)))
        path = g.pick(
            [
                f"/static/js/vendor.{g.hex(8)}.js",
                "/api/v1/catalog/categories",
                "/",
                "/feed.xml",
                f"/images/{g.digits(6)}.webp",
            ]
        )
        return browser_request(
            g,
            "GET",
            path,
            host=host,
            locale=locale,
            fetch=Fetch(),
            referer=internal_referer(g, host),
            extra=extra + header_extras(g, client, host),
            client=client,
        )
    if choice == 2:
        ranges = g.pick(
            [
                "bytes=0-",
                "bytes=0-1048575",
                f"bytes={g.rng.randint(1, 9) * 1048576}-",
                "bytes=500-999",
                "bytes=0-50, 100-150",
                "bytes=-500",
            ]
        )
        extra = [("Range", ranges)]
        if g.chance(0.5):
            extra.append(("If-Range", etag(g)))
        path, dest = g.pick(
            [
                ("/media/videos/intro-1080p.mp4", "video"),
                ("/downloads/Ledgerly-Setup-4.2.1.dmg", "empty"),
                ("/podcast/episode-42.mp3", "audio"),
                ("/files/catalogue été 2024.pdf", "empty"),
            ]
        )
        path = quote(path)
        return browser_request(
            g,
            "GET",
            path,
            host=host,
            locale=locale,
            fetch=Fetch(mode="no-cors", dest=dest, accept="*/*"),
            referer=internal_referer(g, host),
            extra=extra,
            client=client,
        )
    if choice == 3:
        # WebSocket upgrade for live updates.
        extra = [
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Key", g.b64(g.randbytes(16))),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),
            ("Origin", f"https://{host}"),
        ]
        headers = browser_headers(
            g,
            client,
            host,
            Fetch(mode="websocket", dest="websocket", accept="*/*"),
            locale=locale,
            extra=extra,
        )
        headers["Connection"] = "Upgrade"
        headers.pop("Sec-Fetch-User", None)
        path = with_query("/ws", [("token", g.b64url(g.randbytes(24))), ("v", "2")])
        return make_request("GET", path, finish_headers(g, client.family, headers))
    if choice == 4:
        extra = [
            ("Last-Event-ID", f"{g.epoch()}-{g.rng.randint(0, 99)}"),
            ("Cache-Control", "no-cache"),
        ]
        return browser_request(
            g,
            "GET",
            "/api/notifications/stream",
            host=host,
            locale=locale,
            fetch=Fetch(mode="cors", dest="empty", accept="text/event-stream"),
            referer=internal_referer(g, host),
            extra=extra,
            client=client,
        )
    # Ordinary page loads with a long language list, a heavy cookie jar and rare headers.
    params = [("q", g.pick(INNOCENT_SEARCHES["en"])), ("page", "2")] if g.chance(0.3) else []
    path = with_query(
        g.pick(["/", "/account/orders", "/c/home/lamps", "/docs/getting-started"]), params
    )
    referer = g.pick(
        [
            internal_referer(g, host),
            site_url(
                host,
                with_query(
                    "/search",
                    [("q", g.pick(INNOCENT_SEARCHES["de"])), ("sort", "price"), ("order", "desc")],
                ),
            ),
            f"https://www.google.com/search?q={quote(g.pick(INNOCENT_SEARCHES['en']))}&sca_esv={g.hex(16)}&source=hp",
        ]
    )
    headers = browser_headers(
        g,
        client,
        host,
        Fetch(site="same-origin"),
        locale=locale,
        referer=referer,
        extra=header_extras(g, client, host),
        cookies=cookie_header(g, rich=True),
    )
    if g.chance(0.6):
        headers["Accept-Language"] = g.pick(LONG_ACCEPT_LANGUAGE)
    return make_request("GET", path, finish_headers(g, client.family, headers))


# --- corpus -----------------------------------------------------------------------------------

GENERATORS: dict[str, Callable[[Gen], dict[str, Any]]] = {
    "browsing": gen_browsing,
    "search": gen_search,
    "auth-forms": gen_auth_form,
    "checkout": gen_checkout,
    "json-api": gen_json_api,
    "file-upload": gen_upload,
    "rich-text": gen_rich_text,
    "headers": gen_headers,
}


def stable_faker(locale: str) -> Faker:
    fake = Faker(locale)
    # Faker's it_IT city list is built from a set, so its order, and so the city a seed picks,
    # would change with Python's per-process string hash seed.
    for provider in fake.get_providers():
        cities = getattr(provider, "cities", None)
        if isinstance(cities, list):
            provider.cities = sorted(cities)
    return fake


def generate(counts: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """All requests of the corpus, in a fixed order, with ids and labels."""
    counts = counts or COUNTS
    fakers = {locale: stable_faker(locale) for locale in LOCALES}
    requests: list[dict[str, Any]] = []
    for index, (category, count) in enumerate(counts.items()):
        g = Gen(fakers, SEED + index)
        for n in range(1, count + 1):
            request = GENERATORS[category](g)
            requests.append(
                {"id": f"benign/{category}-{n}", "category": category, "label": "benign", **request}
            )
    return requests


def render(requests: Sequence[dict[str, Any]]) -> str:
    return "".join(
        json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in requests
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSONL file")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if --out differs from a fresh run"
    )
    args = parser.parse_args(argv)
    text = render(generate())
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: rerun bench/make_benign_corpus.py", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8", newline="\n")
    print(
        f"wrote {len(text.splitlines())} requests ({len(text.encode()) / 1e6:.2f} MB) to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
