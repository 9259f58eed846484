"""Block Kit for every lockbot message, one module per message family: pure functions of domain values.

- `primitives`: `SlackMessage`, Slack's limits, sections, contexts, buttons, long lists cut to fit
- `outcomes`: how an action (a door's lock or unlock, a slot's lock) reads in each phase
- `actions`: an action's channel message and the status message in its thread
- `requests`: unlock requests, their buttons, decisions and the deny-reason modal
- `doors`: `/doors`, its audit log, and answers naming a door that is not one
- `slots`: `/slot` and a slot lock's thread
- `notices`: door events and action outcomes in a door's notify channel
- `relocks`: a timed unlock's end: the door locked first by someone, or loudly not locked again
- `emergencies`: break-glass: the loud notice to a door's approvers, and their direct messages
- `reminders`: an undecided request bumped in its thread, and who was reminded when on its message
- `replies`: short answers to a command that did nothing
- `home`: App Home (doors, requests to decide, timed unlocks, slot locks), its unlock modal and answers

Each message has a plain `text` that says the same as its blocks (notifications, screen readers).
Both are rendered from one `Text` (bot/slack/text.py), which escapes every value from people or
APIs, so neither can carry a mention or a link that lockbot did not write. Every message keeps
within Slack's limits: long lists are cut with "and N more" and a way to see the rest.
"""

__all__: list[str] = []
