# A message was moved or copied out of Pitches: learn it as legitimate,
# unless it went to the Trash (deleting a pitch says nothing about it).
# Run by Dovecot's imap_sieve plugin (90-pitchfork-learn.conf).
require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];

if environment :matches "imap.mailbox" "*" {
  set "mailbox" "${1}";
}
if string :is "${mailbox}" ["Trash", "Deleted Messages", "Deleted Items"] {
  stop;
}
pipe :copy "pitchfork-learn" ["legit"];
