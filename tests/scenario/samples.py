"""A valid scenario the rule tests and the reliability tests start from."""

GOOD = """\
# Goblin Ambush
<!-- tags: goblins, ambush -->

## SYSTEM
Role: Dungeon Master. Narrate vividly.
World: Forgotten Realms
Location: Triboar Trail
Party:
- Thorin Ironfist | Dwarf Fighter 3 | HP 28/31 | XP 900 | Inventory: battleaxe, healing potion x2
- Lyra Moonwhisper | Elf Wizard 3 | HP 14/18 | XP 900 | Inventory: spellbook, 12 gp

## User
Thorin scans the treeline.

## DM
Thorin squints into the pines. [roll: perception (Thorin)]

## TOOLCALL
roll: perception (Thorin) = 1d20+1 = 17+1 = 18

## DM
Three goblins crouch behind a log.
"""
