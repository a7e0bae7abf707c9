"""How dates read across the site (``FORMAT_MODULE_PATH``): "4 Dec 2026", "4 Dec 2026, 09:21".

Django's English defaults ("Dec. 4, 2026, 9:21 a.m.") are replaced once here, so templates
(``|date:"DATETIME_FORMAT"``), Python (``formats.date_format``) and the back office agree.
Day before month and a 24-hour clock read the same to studios on either side of the Atlantic;
the month as a word avoids 04/12 vs 12/04. Input formats stay Django's.
"""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
MONTH_DAY_FORMAT = "j F"
YEAR_MONTH_FORMAT = "F Y"
