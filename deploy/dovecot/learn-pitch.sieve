# A message was moved, copied or appended into Pitches: learn it as a
# pitch. Run by Dovecot's imap_sieve plugin (90-pitchfork-learn.conf).
require ["vnd.dovecot.pipe", "copy", "imapsieve"];

pipe :copy "pitchfork-learn" ["pitch"];
