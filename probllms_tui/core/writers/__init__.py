"""Write MCQs back out as banks other tools read: GIFT (Moodle), CSV, Anki .apkg.

Each writer returns the questions it could not write with the reason (a GIFT or Anki card
needs a known answer), so the command can say so instead of dropping them silently.
"""
