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
mx-0029*0x6cad4a268d116ece1738f7d93d9c172411e20b8f*0x1818e811892f902bd23f0824128b2f330c5c7fd0"'12345678901234567890.123456789012345678(•É·¥ìÏëz
mx-0030*0xcb5c74273f98e2774cbd87ad5c90a9587403e430*0x6cad4a268d116ece1738f7d93d9c172411e20b8f"	25.019613(Ä›™Ñ§Ïë2ETHz
mx-0031*0x9be4bcfc49b64a0872e6cc3ababced2057ee05cd*0xa6a3a4506513270e269e0d37f2a74de452e6b438"	61.148435(ñù˜¨´Ïë2BTCy
mx-0032*0x14f4733f3e7d1bfbc7a2ea20b2f14c942e05319a*0x1818e811892f902bd23f0824128b2f330c5c7fd0"5.582423(·‘¢Û∏Ïë2BTCt
mx-0033*0x14f4733f3e7d1bfbc7a2ea20b2f14c942e05319a*0x1818e811892f902bd23f0824128b2f330c5c7fd0"6.809774(òè†∏¿Ïëz
mx-0034*0x14f4733f3e7d1bfbc7a2ea20b2f14c942e05319a*0xa6a3a4506513270e269e0d37f2a74de452e6b438"	12.530110(–î“Õ’Ïë2ETHô
mx-0035»wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc"	14.501257(£Ñß¬·Ïë2ETHì
mx-0036»wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww*0xcb5c74273f98e2774cbd87ad5c90a9587403e430"3.989087(„ìÈ¢ÍÏët
mx-0037*0x6cad4a268d116ece1738f7d93d9c172411e20b8f*0x9e7769b10f4205b4907a70c31012f037b64ce422"1.076070(ËÌ‘Í˛Ïë|
mx-0038*0x81e74ef5e8e25d940ed904759531985d5d9dc9f8*0xf29d0da9953f48f1a09f76b5a170b33839263059"
296.940600(ùê⁄ÌçÌë2USDTz
mx-0039*0x6cad4a268d116ece1738f7d93d9c172411e20b8f*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc"	10.700273(ìçÃéúÌë2ETHõ
mx-0040»wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww*0x9e7769b10f4205b4907a70c31012f037b64ce422"
344.441740(ÒΩ◊ÁüÌë2USDT{
mx-0041*0x81e74ef5e8e25d940ed904759531985d5d9dc9f8*0x923a736994e3bf911a61dbe22e44158bae97ba94"	16.347600(⁄æÛê≤Ìë2USDTz
mx-0042*0xcb5c74273f98e2774cbd87ad5c90a9587403e430*0x81e74ef5e8e25d940ed904759531985d5d9dc9f8"2.949903(¢≤˛√√Ìë2USDT{
mx-0043*0x6cad4a268d116ece1738f7d93d9c172411e20b8f*0x9e7769b10f4205b4907a70c31012f037b64ce422"
813.991954(É≥…Ä…Ìë2ETHz
mx-0044*0x14f4733f3e7d1bfbc7a2ea20b2f14c942e05319a*0xcb5c74273f98e2774cbd87ad5c90a9587403e430"	45.093807(‡Œà›÷Ìë2ETHy
mx-0045*0x9e7769b10f4205b4907a70c31012f037b64ce422*0x81e74ef5e8e25d940ed904759531985d5d9dc9f8"2.637720(ªÎÄ˘ÏÌë2BTCs
mx-0046*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc*0x6b0d549b6f03675a1600a35a099950d836f675cc"0(„™…’ÛÌë2USDTz
mx-0047*0x9be4bcfc49b64a0872e6cc3ababced2057ee05cd*0x6cad4a268d116ece1738f7d93d9c172411e20b8f"7.977531(…»ãªˇÌë2USDTy
mx-0048*0xcb5c74273f98e2774cbd87ad5c90a9587403e430*0xf29d0da9953f48f1a09f76b5a170b33839263059"4.186541(–î˝ûåÓë2BTCu
mx-0049*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc*0x1818e811892f902bd23f0824128b2f330c5c7fd0"	24.497822(Ãﬂü£ôÓëY
mx-0050*0x6b0d549b6f03675a1600a35a099950d836f675ccwallet_Êó•Êú¨"
137.519046(îì©¢´Óëy
mx-0051*0xcb5c74273f98e2774cbd87ad5c90a9587403e430*0x8a6a63ec24ede6a46b4cb2424a23d5962217bead"0.741055(∂™˛ªªÓë2ETHv
mx-0052*0x8c38fb2918f135d25f557203301850c5a38fd547*0x923a736994e3bf911a61dbe22e44158bae97ba94"
198.058092(≈˛ûÜøÓëX
mx-0053*0xcb5c74273f98e2774cbd87ad5c90a9587403e430wallet_Êó•Êú¨"	40.194355(π⁄ù…ÕÓëz
mx-0054*0xa6a3a4506513270e269e0d37f2a74de452e6b438*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc"	10.573648(ÄÕä¬›Óë2BTCy
mx-0055*0x8a6a63ec24ede6a46b4cb2424a23d5962217bead*0xf29d0da9953f48f1a09f76b5a170b33839263059"9.527186(ˆ°êÄÓë2ETHz
mx-0056*0xcb5c74273f98e2774cbd87ad5c90a9587403e430*0xa6a3a4506513270e269e0d37f2a74de452e6b438"1.413116(ŸÙ≤ﬂÛÓë2USDTX
mx-0057bc1qw√§llet√ü*0x0cb1e29c658cda1495e60af593bd04cf0fd630f1"	84.936169(Ó®ºﬁãÔëì
mx-0058*0xd0eda82f8f6d05584ef8aa38922766581e27a1c0*0xec66a78795e761d17731af10506bf2efc6f87718"'12345678901234567890.123456789012345678(€ûı∂êÔëò
mx-0059»wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww*0xcb5c74273f98e2774cbd87ad5c90a9587403e430"1.528871(Áª€ß§Ôë2BTC^
mx-0060wallet_Êó•Êú¨*0xe00902c77ebff206867347214cdd2055930d6eaf"
692.727005(ñÑªÌ≤Ôë2BTCt
mx-0061*0xa6a3a4506513270e269e0d37f2a74de452e6b438*0x1818e811892f902bd23f0824128b2f330c5c7fd0"2.110012(ÜÇìöºÔë{
mx-0062*0x14f4733f3e7d1bfbc7a2ea20b2f14c942e05319a*0x1818e811892f902bd23f0824128b2f330c5c7fd0"	64.713728(Ê∞œÃ«Ôë2USDT|
mx-0063*0xa6a3a4506513270e269e0d37f2a74de452e6b438*0x6d76b07e881ed162ae2eb1547f15052434b9b5df"1161.527403(ò±˘∏ŸÔë2BTCt
mx-0064*0xec66a78795e761d17731af10506bf2efc6f87718*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc"0.241944(üè∑˝ÈÔëy
mx-0065*0xec66a78795e761d17731af10506bf2efc6f87718*0x8c38fb2918f135d25f557203301850c5a38fd547"9.663531(≤‰ÑÙıÔë2BTCy
mx-0066*0x9be4bcfc49b64a0872e6cc3ababced2057ee05cd*0x6cad4a268d116ece1738f7d93d9c172411e20b8f"3.726544(ª◊˚ì˛Ôë2ETHy
mx-0067*0xa6a3a4506513270e269e0d37f2a74de452e6b438*0xec66a78795e761d17731af10506bf2efc6f87718"2.704644(•∆∏àë2ETH\
mx-0068wallet_Êó•Êú¨*0xec66a78795e761d17731af10506bf2efc6f87718"4.487234(†ñ‰∏õë2BTCm
mx-0069*0x14f4733f3e7d1bfbc7a2ea20b2f14c942e05319a*0xf29d0da9953f48f1a09f76b5a170b33839263059"0(ÁÎ≠Å¢ë{
mx-0070*0x81e74ef5e8e25d940ed904759531985d5d9dc9f8*0xcb5c74273f98e2774cbd87ad5c90a9587403e430"
371.281707(˛æ±áµë2ETHz
mx-0071*0x81e74ef5e8e25d940ed904759531985d5d9dc9f8*0xe00902c77ebff206867347214cdd2055930d6eaf"5.632674(ê∫Ãä…ë2USDTò
mx-0072*0x6b0d549b6f03675a1600a35a099950d836f675cc»wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww"7.918704(Á€„≤—ë2BTCz
mx-0073*0xf28c105d1fb17c2390c192cfd3ac94af0f21ddb6*0xa6a3a4506513270e269e0d37f2a74de452e6b438"6.436397(á—±—‹ë2USDTz
mx-0074*0x6b0d549b6f03675a1600a35a099950d836f675cc*0xd0eda82f8f6d05584ef8aa38922766581e27a1c0"	75.971399(Àµ›‰Áë2BTCz
mx-0075*0x8a6a63ec24ede6a46b4cb2424a23d5962217bead*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc"9.912231(ØÙ◊ô˚ë2USDT|
mx-0076*0x9e7769b10f4205b4907a70c31012f037b64ce422*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc"
108.054124(ˆ£Ë≠åÒë2USDT]
mx-0077bc1qw√§llet√ü*0x6cad4a268d116ece1738f7d93d9c172411e20b8f"6.535783(üÒ∑ÏëÒë2USDT{
mx-0078*0x9e7769b10f4205b4907a70c31012f037b64ce422*0xa6a3a4506513270e269e0d37f2a74de452e6b438"
364.957794(öì•ÁßÒë2ETH|
mx-0079*0x81e74ef5e8e25d940ed904759531985d5d9dc9f8*0x1818e811892f902bd23f0824128b2f330c5c7fd0"
250.644784(ó‘ñ´≥Òë2USDT|
mx-0080*0xec66a78795e761d17731af10506bf2efc6f87718*0x1818e811892f902bd23f0824128b2f330c5c7fd0"
464.179057(À≈¬ººÒë2USDTy
mx-0081*0x8a6a63ec24ede6a46b4cb2424a23d5962217bead*0xd0eda82f8f6d05584ef8aa38922766581e27a1c0"0.684529(ïÄ·“∆Òë2ETHz
mx-0082*0x8a6a63ec24ede6a46b4cb2424a23d5962217bead*0xec66a78795e761d17731af10506bf2efc6f87718"	27.175460(•â¥ÛŸÒë2BTC|
mx-0083*0xf29d0da9953f48f1a09f76b5a170b33839263059*0xcb5c74273f98e2774cbd87ad5c90a9587403e430"
320.230713(…Û˜¥‰Òë2USDTy
mx-0084*0x6d76b07e881ed162ae2eb1547f15052434b9b5df*0x9e7769b10f4205b4907a70c31012f037b64ce422"4.095121(Ê¢÷…ÌÒë2BTCt
mx-0085*0xd0eda82f8f6d05584ef8aa38922766581e27a1c0*0x0cb1e29c658cda1495e60af593bd04cf0fd630f1"1.211961(ò÷”–¯Òëz
mx-0086*0x8c38fb2918f135d25f557203301850c5a38fd547*0x9e7769b10f4205b4907a70c31012f037b64ce422"	58.283367(ÂôÀÚäÚë2BTCò
mx-0087*0xec66a78795e761d17731af10506bf2efc6f87718*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc"'12345678901234567890.123456789012345678(ı°∑ÈöÚë2ETH|
mx-0088*0x81e74ef5e8e25d940ed904759531985d5d9dc9f8*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc"
183.677161(Õ™¯≠ßÚë2USDT{
mx-0089*0xa6a3a4506513270e269e0d37f2a74de452e6b438*0x6cad4a268d116ece1738f7d93d9c172411e20b8f"
264.615699(ªÃï∏µÚë2BTCy
mx-0090*0x8c38fb2918f135d25f557203301850c5a38fd547*0xcb5c74273f98e2774cbd87ad5c90a9587403e430"7.161877(úˆåŸΩÚë2BTC˝
mx-0091»wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwbc1qw√§llet√ü"	25.749754(¶éé∂ÕÚë2USDTU
mx-0092*0xcb5c74273f98e2774cbd87ad5c90a9587403e430bc1qw√§llet√ü"0(ªå˙¢◊Úë2ETHt
mx-0093*0x8c38fb2918f135d25f557203301850c5a38fd547*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc"1.010969(«˛‡ÁÎÚë|
mx-0094*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc*0xd0eda82f8f6d05584ef8aa38922766581e27a1c0"1433.498392(‹‘≥Ü˘Úë2ETHu
mx-0095*0xa6a3a4506513270e269e0d37f2a74de452e6b438*0x9e7769b10f4205b4907a70c31012f037b64ce422"	55.022845(‘£”≤ÅÛëy
mx-0096*0x81e74ef5e8e25d940ed904759531985d5d9dc9f8*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc"3.388201(òñ◊¶èÛë2BTCö
mx-0097»wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww*0xd0eda82f8f6d05584ef8aa38922766581e27a1c0"	65.415611(È¿°£úÛë2USDTz
mx-0098*0xcb5c74273f98e2774cbd87ad5c90a9587403e430*0x81e74ef5e8e25d940ed904759531985d5d9dc9f8"0.242020(«¢“·≠Ûë2USDTv
mx-0099*0x8a6a63ec24ede6a46b4cb2424a23d5962217bead*0x6b0d549b6f03675a1600a35a099950d836f675cc"
434.196412(∆ÓÎΩ∑Ûë]
mx-0100wallet_Êó•Êú¨*0x1818e811892f902bd23f0824128b2f330c5c7fd0"	12.625084(™°—”√Ûë2BTCò
mx-0101»wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww*0x1818e811892f902bd23f0824128b2f330c5c7fd0"2.746622(ºı…ÿ”Ûë2BTCt
mx-0102*0x81e74ef5e8e25d940ed904759531985d5d9dc9f8*0xf28c105d1fb17c2390c192cfd3ac94af0f21ddb6"9.981342(°ÿ⁄®‰Ûëz
mx-0103*0x1818e811892f902bd23f0824128b2f330c5c7fd0*0x8a6a63ec24ede6a46b4cb2424a23d5962217bead"	49.392045(∂ˇ˛„ÓÛë2ETHt
mx-0104*0x6b0d549b6f03675a1600a35a099950d836f675cc*0xa6a3a4506513270e269e0d37f2a74de452e6b438"1.588386(ÖÖ˙⁄ÇÙë{
mx-0105*0x923a736994e3bf911a61dbe22e44158bae97ba94*0x8a6a63ec24ede6a46b4cb2424a23d5962217bead"
140.051650(œÚÂ¶èÙë2ETHv
mx-0106*0x923a736994e3bf911a61dbe22e44158bae97ba94*0x14f4733f3e7d1bfbc7a2ea20b2f14c942e05319a"
119.381942(ïö»öùÙëW
mx-0107*0xa6a3a4506513270e269e0d37f2a74de452e6b438bc1qw√§llet√ü"3.803909(¿ÖÈƒ•Ùëz
mx-0108*0x1818e811892f902bd23f0824128b2f330c5c7fd0*0x6d76b07e881ed162ae2eb1547f15052434b9b5df"0.942199(‘—ÇÇ∂Ùë2USDTy
mx-0109*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc*0xd0eda82f8f6d05584ef8aa38922766581e27a1c0"1.331857(¨Ä˜±æÙë2BTCX
mx-0110*0x9be4bcfc49b64a0872e6cc3ababced2057ee05cdbc1qw√§llet√ü"	70.750330(¥Õû⁄ŒÙë{
mx-0111*0xdbc496cb8e81973e0becd7b03898d190f9ebdacc*0x9e7769b10f4205b4907a70c31012f037b64ce422"	69.520660(Ë©•Ê◊Ùë2USDTô
mx-0112»wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww*0x6cad4a268d116ece1738f7d93d9c172411e20b8f"	34.335071(Ïø‹πÈÙë2BTCz
mx-0113*0xcb5c74273f98e2774cbd87ad5c90a9587403e430*0xf29d0da9953f48f1a09f76b5a170b33839263059"	12.427563( πÜÈÙë2BTC{
mx-0114*0xec66a78795e761d17731af10506bf2efc6f87718*0x14f4733f3e7d1bfbc7a2ea20b2f14c942e05319a"	24.447274(ñÓÜÏ˛Ùë2USDTr
mx-0115*0x9be4bcfc49b64a0872e6cc3ababced2057ee05cd*0x81e74ef5e8e25d940ed904759531985d5d9dc9f8"0(‰ç•ºëıë2ETHò
mx-0116*0x6cad4a268d116ece1738f7d93d9c172411e20b8f*0x9e7769b10f4205b4907a70c31012f037b64ce422"'12345678901234567890.123456789012345678(µ≥ÉΩ£ıë2BTCy
mx-0117*0x8a6a63ec24ede6a46b4cb2424a23d5962217bead*0xd0eda82f8f6d05584ef8aa38922766581e27a1c0"7.266397(ï‡∂ﬁ∞ıë2ETHz
mx-0118*0x6d76b07e881ed162ae2eb1547f15052434b9b5df*0x0cb1e29c658cda1495e60af593bd04cf0fd630f1"4.295021(í÷÷⁄ªıë2USDTy
mx-0119*0x81e74ef5e8e25d940ed904759531985d5d9dc9f8*0x8c38fb2918f135d25f557203301850c5a38fd547"6.551874(≠Á˜È√ıë2BTC