from netpolicy.cli import main

main()
