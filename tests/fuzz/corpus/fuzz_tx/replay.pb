ì
mx-0000*0x81e74ef5e8e25d940ed904759531985d5d9dc9f8*0x6b0d549b6f03675a1600a35a099950d836f675cc"'12345678901234567890.123456789012345678(¨Ãà⁄ÜÈë{
mx-0001*0x9e7769b10f4205b4907a70c31012f037b64ce422*0x1818e811892f902bd23f0824128b2f330c5c7fd0"	51.858105(‰¿√ ñÈë2USDT{
mx-0002*0x9be4bcfc49b64a0872e6cc3ababced2057ee05cd*0xec66a78795e761d17731af10506bf2efc6f87718"	33.880770(©Ü´—†Èë2USDTî
mx-0003*0xec66a78795e761d17731af10506bf2efc6f87718»wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww"	36.735567(£◊Ê´±Èëò
mx-0004*0x8a6a63ec24ede6a46b4cb2424a23d5962217bead»wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww"6.023658(ªΩ´â¡Èë2ETHz
mx-0005*0x9be4bcfc49b64a0872e6cc3ababced2057ee05cd*0x6b0d549b6f03675a1600a35a099950d836f675cc"	19.301394(ñ’ÿ¥…Èë2ETH|
mx-0006*0x8c38fb2918f135d25f557203301850c5a38fd547*0x9e7769b10f4205b4907a70c31012f037b64ce422"
343.174447(‚›ÂŸ€Èë2USDTv
mx-0007*0x6cad4a268d116ece1738f7d93d9c172411e20b8f*0x9e7769b10f4205b4907a70c31012f037b64ce422"
113.435469(Ø£èﬁÁÈëu
mx-0008*0x0cb1e29c658cda1495e60af593bd04cf0fd630f1*0x6cad4a268d116ece1738f7d93d9c172411e20b8f"	80.295625(∞±œ›ÔÈëz
mx-0009*0x14f4733f3e7d1bfbc7a2ea20b2f14c942e05319a*0x923a736994e3bf911a61dbe22e44158bae97ba94"	34.131587( º∫œáÍë2BTCY
mx-0010*0x6d76b07e881ed162ae2eb1547f15052434b9b5dfwallet_Êó•Êú¨"
107.418359(ñˇÁ¿êÍë\
mx-0011bc1qw√§llet√ü*0x8c38fb2918f135d25f557203301850c5a38fd547"6.356572(ŸÑÁà°Íë2BTCu
mx-0012*0xa6a3a4506513270e269e0d37f2a74de452e6b438*0xe00902c77ebff206867347214cdd2055930d6eaf"	12.916803(˙˚ªæ®Íë\
mx-0013*0x6cad4a268d116ece1738f7d93d9c172411e20b8fbc1qw√§llet√ü"5.381853(©πà˚πÍë2BTC{
mx-0014*0xec66a78795e761d17731af10506bf2efc6f87718*0x6d76b07e881ed162ae2eb1547f15052434b9b5df"	18.151118(™∆•Ÿ¡Íë2USDT{
mx-0015*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc*0xec66a78795e761d17731af10506bf2efc6f87718"	77.024217(ºÍù◊–Íë2USDTô
mx-0016*0x6cad4a268d116ece1738f7d93d9c172411e20b8f»wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww"	23.553762(„ÑÚ¿ﬂÍë2BTCö
mx-0017»wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc"	39.372974(œ˘ÍíÙÍë2USDT^
mx-0018bc1qw√§llet√ü*0x0cb1e29c658cda1495e60af593bd04cf0fd630f1"
125.795158(—∞¢ÂÇÎë2ETHz
mx-0019*0x8c38fb2918f135d25f557203301850c5a38fd547*0x0cb1e29c658cda1495e60af593bd04cf0fd630f1"2.766513(Óœ˘–ÉÎë2USDTz
mx-0020*0xec66a78795e761d17731af10506bf2efc6f87718*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc"1.361004(¢Ø„∂óÎë2USDTt
mx-0021*0x923a736994e3bf911a61dbe22e44158bae97ba94*0x81e74ef5e8e25d940ed904759531985d5d9dc9f8"5.206261(›¡ªï£Îë^
mx-0022*0x9be4bcfc49b64a0872e6cc3ababced2057ee05cdbc1qw√§llet√ü"
189.684697(óã„÷∞Îë2BTCV
mx-0023wallet_Êó•Êú¨*0x6b0d549b6f03675a1600a35a099950d836f675cc"0(åıÌ∫øÎë2USDTz
mx-0024*0x81e74ef5e8e25d940ed904759531985d5d9dc9f8*0x8c38fb2918f135d25f557203301850c5a38fd547"	12.089044(¨Åâß—Îë2ETH{
mx-0025*0x6cad4a268d116ece1738f7d93d9c172411e20b8f*0xa6a3a4506513270e269e0d37f2a74de452e6b438"	68.866659(˜ôâ‡‹Îë2USDTz
mx-0026*0x6cad4a268d116ece1738f7d93d9c172411e20b8f*0x14f4733f3e7d1bfbc7a2ea20b2f14c942e05319a"	23.838186(—ÂìÏÎë2BTCy
mx-0027*0xcb5c74273f98e2774cbd87ad5c90a9587403e430*0x6cad4a268d116ece1738f7d93d9c172411e20b8f"3.866286(≠¬§Ë˚Îë2BTCt
mx-0028*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc*0xf29d0da9953f48f1a09f76b5a170b33839263059"7.614923(õ§ÛÓÄÏëì
mx-0029*0x6cad4a268d116ece1738f7d93d9c172411e20b8f*0x1818e811892f902bd23f0824128b2f330c5c7fd0"'12345678901234567890.123456789012345678(•É·¥ìÏëì
mx-0000*0x81e74ef5e8e25d940ed904759531985d5d9dc9f8*0x6b0d549b6f03675a1600a35a099950d836f675cc"'12345678901234567890.123456789012345678(¨Ãà⁄ÜÈë{
mx-0001*0x9e7769b10f4205b4907a70c31012f037b64ce422*0x1818e811892f902bd23f0824128b2f330c5c7fd0"	51.858105(‰¿√ ñÈë2USDT{
mx-0002*0x9be4bcfc49b64a0872e6cc3ababced2057ee05cd*0xec66a78795e761d17731af10506bf2efc6f87718"	33.880770(©Ü´—†Èë2USDTî
mx-0003*0xec66a78795e761d17731af10506bf2efc6f87718»wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww"	36.735567(£◊Ê´±Èëò
mx-0004*0x8a6a63ec24ede6a46b4cb2424a23d5962217bead»wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww"6.023658(ªΩ´â¡Èë2ETHz
mx-0005*0x9be4bcfc49b64a0872e6cc3ababced2057ee05cd*0x6b0d549b6f03675a1600a35a099950d836f675cc"	19.301394(ñ’ÿ¥…Èë2ETH|
mx-0006*0x8c38fb2918f135d25f557203301850c5a38fd547*0x9e7769b10f4205b4907a70c31012f037b64ce422"
343.174447(‚›ÂŸ€Èë2USDTv
mx-0007*0x6cad4a268d116ece1738f7d93d9c172411e20b8f*0x9e7769b10f4205b4907a70c31012f037b64ce422"
113.435469(Ø£èﬁÁÈëu
mx-0008*0x0cb1e29c658cda1495e60af593bd04cf0fd630f1*0x6cad4a268d116ece1738f7d93d9c172411e20b8f"	80.295625(∞±œ›ÔÈëz
mx-0009*0x14f4733f3e7d1bfbc7a2ea20b2f14c942e05319a*0x923a736994e3bf911a61dbe22e44158bae97ba94"	34.131587( º∫œáÍë2BTC