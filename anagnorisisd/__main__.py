from anagnorisisd.cli import main

raise SystemExit(main())
