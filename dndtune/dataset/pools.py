"""The small vocabularies augmentation draws from: names, races, classes, worlds, places, phrasing.

Kept apart from the code so adding a name or a template is a data change. Pools stay small on
purpose: augmentation should vary surface details, not invent a second corpus.
"""

from __future__ import annotations

# Given names that read as any gender, so the pronouns already in the narration stay right.
GIVEN_NAMES: tuple[str, ...] = (
    "Arin", "Quinn", "Rowan", "Emrys", "Sorrel", "Linden", "Teagan", "Jory", "Corin", "Dael",
    "Eryn", "Lorne", "Oriel", "Perrin", "Sable", "Tarin", "Wynn", "Kestrel", "Ellis", "Marlo",
    "Nevin", "Riley", "Sasha", "Tamsen",
)
SURNAMES: tuple[str, ...] = (
    "Stonehollow", "Brightwater", "Ashdown", "Greymantle", "Fairwind", "Copperkettle", "Duskwalker",
    "Frostmere", "Hollowell", "Ironwood", "Larkspur", "Marrowby", "Nettlefield", "Quickfoot",
    "Redfern", "Silverbrook", "Thornfield", "Underbridge", "Whitlock", "Blackbriar",
)
# Leading words of a name that are a title, not part of the name: "Brother Aldric" keeps "Brother".
TITLES: frozenset[str] = frozenset({
    "Brother", "Sister", "Father", "Mother", "Sir", "Dame", "Lady", "Lord", "Master", "Mistress",
    "Captain", "Elder", "Old", "Young",
})

# Race -> (singular, plural, adjective) as they appear in narration ("dwarf", "dwarves", "dwarven").
RACE_FORMS: dict[str, tuple[str, str, str]] = {
    "human": ("human", "humans", "human"),
    "elf": ("elf", "elves", "elven"),
    "dwarf": ("dwarf", "dwarves", "dwarven"),
    "halfling": ("halfling", "halflings", "halfling"),
    "gnome": ("gnome", "gnomes", "gnomish"),
    "half-elf": ("half-elf", "half-elves", "half-elven"),
    "half-orc": ("half-orc", "half-orcs", "half-orcish"),
    "tiefling": ("tiefling", "tieflings", "tiefling"),
    "dragonborn": ("dragonborn", "dragonborn", "dragonborn"),
    "goliath": ("goliath", "goliaths", "goliath"),
    "aasimar": ("aasimar", "aasimar", "aasimar"),
    "warforged": ("warforged", "warforged", "warforged"),
    "changeling": ("changeling", "changelings", "changeling"),
    "kalashtar": ("kalashtar", "kalashtar", "kalashtar"),
}
# Other spellings people write that mean the same form of the same race.
RACE_VARIANTS: dict[str, tuple[str, int]] = {
    "dwarfs": ("dwarf", 1), "dwarvish": ("dwarf", 2), "elvish": ("elf", 2),
}
# Words that describe a race's body or gifts: a race is only swapped when the scenario uses none
# of its own (a tiefling's horns would outlive a swap to halfling).
RACE_FEATURES: dict[str, tuple[str, ...]] = {
    "tiefling": ("horn", "horns", "horned", "tail", "devil", "devils", "devil-blooded", "infernal",
                 "fiend", "fiendish", "hellish"),
    "dragonborn": ("scale", "scales", "scaled", "scaly", "breath weapon", "draconic", "nostril",
                   "nostrils", "snout", "claws", "dragon"),
    "dwarf": ("beard", "beards", "bearded", "stonecunning"),
    "elf": ("pointed ears", "trance", "fey ancestry"),
    "half-elf": ("pointed ears", "fey ancestry"),
    "halfling": ("halfling luck", "lucky"),
    "gnome": ("gnome cunning",),
    "half-orc": ("tusk", "tusks", "tusked", "relentless endurance", "savage attacks"),
    "goliath": ("stone's endurance", "giant blood"),
    "aasimar": ("celestial", "halo", "wings"),
    "warforged": ("plating", "plates", "construct", "rivets", "metal", "iron", "steel body"),
    "changeling": ("shapechange", "shapechanger", "face", "faces", "shift", "shifts"),
    "kalashtar": ("quori", "psionic", "psionics", "dream", "dreams"),
}
# What a race may be swapped to: the common player races (the exotic ones are only swapped away from).
SWAP_RACES: tuple[str, ...] = (
    "human", "elf", "dwarf", "halfling", "gnome", "half-elf", "half-orc", "tiefling", "dragonborn",
)

# Classes only swap inside a group whose members play alike at the table, and only when the
# scenario names none of the old class's signature features (a Fighter never casts Smite).
CLASS_GROUPS: tuple[tuple[str, ...], ...] = (
    ("fighter", "barbarian"),
    ("wizard", "sorcerer", "warlock"),
    ("cleric", "druid"),
)
CLASS_FEATURES: dict[str, tuple[str, ...]] = {
    "fighter": ("second wind", "action surge", "fighting style", "indomitable"),
    "barbarian": ("rage", "raging", "rages", "raged", "reckless", "totem"),
    "wizard": ("spellbook", "arcane recovery", "school of"),
    "sorcerer": ("sorcery", "metamagic", "bloodline", "wild magic"),
    "warlock": ("eldritch", "patron", "pact", "invocation", "hex"),
    "cleric": ("holy symbol", "channel divinity", "turn undead", "domain", "deity"),
    "druid": ("wild shape", "druidic", "circle of", "wildshape"),
}

# Invented worlds, so a swap never pairs a real setting's name with another setting's lore.
WORLDS: tuple[str, ...] = (
    "The Ember Reaches (homebrew)", "Veyldra (homebrew)", "The Hollow Crown Isles (homebrew)",
    "Aerenfall (homebrew)", "The Saltglass Expanse (homebrew)", "Mournvale (homebrew)",
)
# Invented place names that replace the proper names of a Location line.
PLACE_NAMES: tuple[str, ...] = (
    "Duskmere", "Karsdel", "Ravenholt", "Brindlemark", "Elmsworth", "Fallowmere", "Glimmerdeep",
    "Hollowfen", "Kestrelby", "Lowenmoor", "Mirewick", "Northwold", "Pellridge", "Quellmoor",
    "Rimeholt", "Tarnwick", "Umberfall", "Wyndholm", "Yarrowdale", "Caldermoor",
)
# Capitalised words of a Location line that describe a kind of place rather than name one; they
# stay ("Neverwinter Wood" -> "Duskmere Wood"), and their presence marks a run as a place name.
PLACE_KINDS: frozenset[str] = frozenset({
    "Depths", "Plateau", "Harbor", "Harbour", "Docks", "Dock", "Gate", "Gates", "Tower", "Towers",
    "Wood", "Woods", "Forest", "Trail", "Road", "River", "Bridge", "Keep", "Castle", "Temple",
    "Chapel", "Tavern", "Inn", "Market", "Square", "Hill", "Hills", "Mountain", "Mountains", "Lake",
    "Sea", "Bay", "Coast", "Isle", "Isles", "Island", "Marsh", "Swamp", "Vale", "Valley", "Pass",
    "Peak", "Cave", "Caves", "Mine", "Mines", "Ruins", "Wall", "Walls", "District", "Ward",
    "Quarter", "Plains", "Desert", "Village", "Town", "City", "Port", "Fort", "Hall", "Manor",
    "Abbey", "Tomb", "Crypt", "Sewers", "Library", "Academy", "Cathedral", "House", "Street",
    "Lane", "Falls", "Springs", "Well", "Grove", "Glade", "Moor", "Fen", "Canyon", "Ridge",
    "Dungeon", "Vault", "Sanctum", "Shrine", "Palace", "Citadel", "Lighthouse", "Mill", "Farm",
    "Glacier", "Court", "Forge", "Outfitters", "Emporium", "Shop",
})
# Other generic capitalised words: articles and the adjectives of compound names ("Lower Ward").
PLACE_WORDS: frozenset[str] = PLACE_KINDS | frozenset({
    "A", "An", "The", "Middle", "Central", "Upper", "Lower", "Old", "New", "Grey", "Gray", "Great",
    "High", "Low", "North", "South", "East", "West", "Northern", "Southern", "Eastern", "Western",
    "Black", "White", "Red", "Golden", "Silver", "Green", "Blue",
})
# A capitalised run right after one of these (an optional "the" between) names a place.
PLACE_PREPOSITIONS: frozenset[str] = frozenset({
    "in", "of", "at", "on", "near", "above", "below", "beneath", "under", "over", "atop", "outside",
    "beyond", "inside", "from", "to", "across", "through", "within", "into", "between",
})

# Dialogue variation of player turns. "I/We <verb> ..." has the same form after these openers.
I_OPENERS: tuple[str, ...] = ("I want to", "I'd like to", "I try to", "Let me")
WE_OPENERS: tuple[str, ...] = ("We want to", "We'd like to", "We try to", "Let's")
# Words after "I"/"We" that are not a plain action verb, so an opener would change the meaning.
NOT_ACTIONS: frozenset[str] = frozenset({
    "am", "are", "was", "were", "be", "been", "have", "had", "has", "can", "could", "will", "would",
    "shall", "should", "must", "may", "might", "do", "does", "did", "don't", "didn't", "can't",
    "won't", "think", "guess", "know", "need", "want", "wanted", "like", "hope", "wonder", "feel",
    "also", "just", "still", "really", "already", "all", "both", "too", "not", "never", "try",
    "tried", "let", "say", "said", "ask", "asked",
})
# Whole sentences that are table small talk, safe to drop or add before the real request.
SMALL_TALK: tuple[str, ...] = (
    "Okay.", "Alright.", "Right.", "Hmm.", "Hmm, okay.", "Sounds good.", "Got it.", "Oh no.",
    "Nice.", "Ha!", "Sure.", "Okay, okay.", "Alright then.",
)
