# Untrusted code: the classic shell fork bomb, :(){ :|:& };: -- spelled
# with a name dash accepts (it refuses ":" as a function name).  The main
# shell then stays (the bomb runs in the background), so the exec lasts
# until its timeout while the bomb grows against the pids limit.
b(){ b|b& };b
sleep 60
