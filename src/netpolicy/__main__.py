from netpolicy.launch import main

main()
